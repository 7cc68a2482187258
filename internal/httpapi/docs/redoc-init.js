// Starts ReDoc on /redoc. It lives in its own file because the Content-Security-Policy
// allows only same-origin scripts. ReDoc injects <style> elements at run time
// (styled-components); the server gives this page a per-request nonce in style-src and
// on this script's tag, and ReDoc puts it on every <style> it creates.
(function () {
  'use strict';
  var script = document.currentScript;
  var nonce = script ? script.nonce || script.getAttribute('nonce') || undefined : undefined;
  Redoc.init('/openapi.json', { nonce: nonce, expandResponses: '200,201,202' }, document.getElementById('redoc'));
})();
