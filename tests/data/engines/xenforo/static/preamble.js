/* preamble */ var XF = window.XF || {};
