import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { AppProvider } from './state.js';

const root = document.getElementById('root');
if (root !== null) createRoot(root).render(<StrictMode><AppProvider><App /></AppProvider></StrictMode>);
