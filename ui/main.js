// Loads the Leptos UI (wasm-bindgen --target web output). Kept out of index.html so the CSP
// needs no inline-script allowance.
import init from './zeues-ui.js';

init({ module_or_path: './zeues-ui_bg.wasm' }).catch((err) => {
  console.error(err);
  const p = document.createElement('p');
  p.className = 'fatal';
  p.textContent = 'No se pudo cargar la interfaz de ZEUES: ' + err;
  document.body.appendChild(p);
});
