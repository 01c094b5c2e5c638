// A little progressive enhancement; every page works without it.
(function () {
  // The guide's print button (no inline handlers: the CSP allows none).
  var print = document.getElementById("print-guide");
  if (print) { print.hidden = false; print.addEventListener("click", function () { window.print(); }); }

  // Confirmations for destructive buttons (the server asks again without JavaScript).
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var text = button && button.getAttribute("data-confirm");
    if (text && !window.confirm(text)) { event.preventDefault(); }
  });

  // The designer: "更新预览" fetches the page and swaps the preview and the pick lists in place,
  // keeping focus and scroll; without JavaScript the same button reloads the page.
  var form = document.getElementById("designer-form");
  if (!form || !window.fetch || !window.DOMParser) { return; }
  form.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (button && button.getAttribute("formmethod") === "post") { return; }  // saving: a real POST
    event.preventDefault();
    var data = new FormData(form);
    if (button && button.name) { data.append(button.name, button.value); }
    var url = form.action + "?" + new URLSearchParams(data).toString();
    var focused = document.activeElement && document.activeElement.id;
    var status = document.getElementById("preview-status");
    if (status) { status.textContent = "正在更新预览…"; }
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (text) {
      var fresh = new DOMParser().parseFromString(text, "text/html");
      ["picked-card", "results-card", "preview-main", "coverage"].forEach(function (id) {
        var old = document.getElementById(id), next = fresh.getElementById(id);
        if (old && next) { old.replaceWith(next); }
      });
      history.replaceState(null, "", url);
      if (focused && document.getElementById(focused)) { document.getElementById(focused).focus({ preventScroll: true }); }
      if (status) { status.textContent = "预览已更新"; }
    }).catch(function () { form.submit(); });
  });
})();
