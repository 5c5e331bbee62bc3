import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { RunProvider } from './run.js';
import { AppProvider } from './state.js';

const root = document.getElementById('root');
if (root !== null) createRoot(root).render(<StrictMode><AppProvider><RunProvider><App /></RunProvider></AppProvider></StrictMode>);
