//! Build script of the desktop shell: lets `tauri-build` read `tauri.conf.json` and the
//! capability files, and generate the permission manifests the runtime checks IPC calls against.
//! It never downloads anything; `ui/dist` must already be built (`npm run ui:build`).

fn main() {
    tauri_build::build()
}
