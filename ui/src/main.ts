// Entry point of the LocalDx UI: mounts the app shell into #app.
import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';

const target = document.getElementById('app');
if (!target) throw new Error('LocalDx: #app is missing from index.html');

export default mount(App, { target });
