// A little progressive enhancement; every page works without it.
// Controls marked data-autosubmit submit their form when they change.
document.addEventListener("change", function (event) {
  var el = event.target;
  if (el && el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) {
    if (el.form.requestSubmit) { el.form.requestSubmit(); } else { el.form.submit(); }
  }
});
