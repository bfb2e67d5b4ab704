import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { reportError, setTheme, useUi } from './state/ui.js';
import { errorMessage } from './format.js';
import './testHook.js';
import './styles.css';

setTheme(useUi.getState().theme);
window.addEventListener('unhandledrejection', (e) => reportError(errorMessage(e.reason)));

createRoot(document.getElementById('root')!).render(<App />);
