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

  // A request the script makes that fails says so, in Chinese, in an alert region (never "updated").
  // `where`: the element the alert is put in when the page has no `[data-fetch-error]` region of its own.
  function showError(where, text) {
    var alert = document.querySelector("[data-fetch-error]");
    if (!alert) {
      alert = document.createElement("div");
      alert.className = "notice bad";
      alert.setAttribute("role", "alert");
      alert.setAttribute("data-fetch-error", "");
      (where || document.getElementById("main") || document.body).insertAdjacentElement("beforeend", alert);
    }
    alert.textContent = text;
    alert.hidden = false;
    if (alert.scrollIntoView) { alert.scrollIntoView({ block: "nearest" }); }
  }
  function clearError() {
    var alert = document.querySelector("[data-fetch-error]");
    if (alert) { alert.textContent = ""; alert.hidden = true; }
  }
  function failed(text) { var error = new Error(text); error.chinese = true; return error; }
  // What went wrong, from the answer: the error page's own words when it is one of ours.
  function failure(what, response, doc) {
    if (response.redirected && /\/pages\/login/.test(response.url)) {
      return what + "失败：登录已失效，请重新登录后再试。";
    }
    var lead = doc && doc.querySelector("main .lead");
    var said = lead ? lead.textContent.trim() : "";
    if (response.status >= 500 || !said) {
      return what + "失败：服务器出错（" + response.status + "），请稍后再试或刷新页面。";
    }
    return what + "失败：" + said;
  }

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
    fetch(url, { credentials: "same-origin" }).then(function (r) {
      return r.text().then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html");
        if (!r.ok || !fresh.getElementById("preview-main")) {
          throw failed(failure("预览更新", r, fresh));
        }
        return fresh;
      });
    }, function () {
      throw failed("预览更新失败：无法连接服务器，请检查网络后再试。");
    }).then(function (fresh) {
      ["picked-card", "results-card", "preview-main", "coverage"].forEach(function (id) {
        var old = document.getElementById(id), next = fresh.getElementById(id);
        if (old && next) { old.replaceWith(next); }
      });
      history.replaceState(null, "", url);
      if (focused && document.getElementById(focused)) { document.getElementById(focused).focus({ preventScroll: true }); }
      clearError();
      if (status) { status.textContent = "预览已更新"; }
    }).catch(function (error) {
      showError(status && status.parentNode, error && error.chinese ? error.message : "预览更新失败，请刷新页面后再试。");
      if (status) { status.textContent = "预览未更新"; }
    });
  });
})();
