//! The desktop shell's integration tests (one binary; modules mirror what they guard):
//! - [`offline`]: nothing in the app can reach the network (CSP, dependency tree, capabilities);
//! - [`wire`]: the TypeScript types in `ui/src/lib/backend.ts` name exactly the fields of the JSON
//!   that the API's DTOs produce, so a renamed or added field fails here instead of in the UI.

mod offline;
mod wire;
