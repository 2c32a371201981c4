// Inactivity logoff, client side. The server enforces the timeout on its own;
// this script warns before it happens, offers "Stay signed in", and leaves the
// page once the session has ended. Its status checks are marked as background
// requests, which the server does not count as activity.
(function () {
  "use strict";
  var body = document.body;
  var timeout = parseInt(body.dataset.idleTimeout, 10);
  var warning = parseInt(body.dataset.idleWarning, 10);
  if (!timeout) { return; }
  var dialog = document.getElementById("idle-dialog");
  var countdown = document.getElementById("idle-countdown");
  var deadline = Date.now() + timeout * 1000;
  var timer = null;

  function csrfToken() {
    var input = document.querySelector("#idle-csrf input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function leave() {
    window.location.assign(body.dataset.loginUrl);
  }

  function describe(seconds) {
    if (seconds >= 60) {
      var minutes = Math.ceil(seconds / 60);
      return minutes + (minutes === 1 ? " minute" : " minutes");
    }
    return seconds + (seconds === 1 ? " second" : " seconds");
  }

  function schedule(remainingSeconds) {
    deadline = Date.now() + remainingSeconds * 1000;
    clearTimeout(timer);
    tick();
  }

  function checkServer() {
    fetch(body.dataset.statusUrl, {
      headers: { "X-Portal-Background": "1", "Accept": "application/json" },
      credentials: "same-origin",
      redirect: "manual"
    }).then(function (response) {
      if (!response.ok) { leave(); return null; }
      return response.json();
    }).then(function (data) {
      if (!data) { return; }
      // Only the server ends the session; until it has, check again shortly.
      if (!data.signed_in) { leave(); return; }
      if (data.remaining > warning && dialog.open) { dialog.close(); }
      schedule(Math.max(data.remaining, 1));
    }).catch(function () { timer = setTimeout(checkServer, 5000); });
  }

  function tick() {
    var left = Math.round((deadline - Date.now()) / 1000);
    if (left <= 0) { checkServer(); return; }
    if (left <= warning) {
      countdown.textContent = describe(left);
      if (!dialog.open) {
        // Another tab may have kept the session alive: ask before warning.
        if (!dialog.dataset.checked) { dialog.dataset.checked = "1"; checkServer(); return; }
        dialog.showModal();
        document.getElementById("idle-stay").focus();
      }
      timer = setTimeout(tick, 1000);
    } else {
      delete dialog.dataset.checked;
      timer = setTimeout(tick, Math.min((left - warning) * 1000, 60000));
    }
  }

  document.getElementById("idle-stay").addEventListener("click", function () {
    fetch(body.dataset.extendUrl, {
      method: "POST",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
      credentials: "same-origin",
      redirect: "manual"
    }).then(function (response) {
      if (!response.ok) { leave(); return null; }
      return response.json();
    }).then(function (data) {
      if (!data) { return; }
      dialog.close();
      delete dialog.dataset.checked;
      schedule(data.remaining);
    }).catch(leave);
  });

  tick();
})();
