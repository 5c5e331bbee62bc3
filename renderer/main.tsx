import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { RunProvider } from './run.js';
import { Room } from './screens/Room.js';
import { AppProvider } from './state.js';

const root = document.getElementById('root');
// the room's window (electron/main/room.ts) is opened on #room=<run id>: only the room's view, never the workbench (Room checks the id)
const room = window.location.hash.startsWith('#room=');
if (root !== null) createRoot(root).render(<StrictMode>{room ? <Room /> : <AppProvider><RunProvider><App /></RunProvider></AppProvider>}</StrictMode>);
