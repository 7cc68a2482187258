// Starts Swagger UI on /docs. It lives in its own file because the Content-Security-
// Policy allows only same-origin scripts, never inline ones.
(function () {
  'use strict';
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    // The default validator is a remote service (validator.swagger.io): never call it.
    validatorUrl: null,
    layout: 'BaseLayout',
    presets: [SwaggerUIBundle.presets.apis]
  });
})();
