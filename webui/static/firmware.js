// The Firmware page: upload with a progress bar, every check shown before anything is written,
// install (or roll back), then follow it through GET /api/v1/firmware: the write's progress,
// the reboot (the router away, then answering again), and the outcome, which the page itself
// renders once reloaded. After a reboot the session is gone: a 401 means "back", log in again.
(function () {
  "use strict";
  var root = document.getElementById("firmware");
  if (!root) { return; }
  var api = root.dataset.api;
  var token = document.querySelector("#firmware input[name=csrf_token]").value;
  var checked = null; // the options the verdict on show was checked with

  function $(id) { return document.getElementById(id); }

  function say(text, kind) {
    var m = $("fw-message");
    m.textContent = text;
    m.className = "flash " + (kind || "warn");
    m.hidden = !text;
  }

  function problem(status, body) {
    if (body && body.error && body.error.message) {
      return (body.error.field ? body.error.field + ": " : "") + body.error.message;
    }
    return status ? "the router answered " + status : "the router did not answer";
  }

  // Every button off while something runs; back as it was after.
  function lock(on) {
    document.querySelectorAll("#firmware button").forEach(function (b) {
      if (on) { b.dataset.was = String(b.disabled); b.disabled = true; }
      else if (b.dataset.was !== undefined) { b.disabled = b.dataset.was === "true"; }
    });
  }

  function post(path, data, done) {
    fetch(api + path, {
      method: "POST", credentials: "same-origin", body: JSON.stringify(data),
      headers: {"Content-Type": "application/json", "X-CSRF-Token": token}
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (b) { done(r.status, b); });
    }).catch(function () { done(0, {}); });
  }

  // The checks in the order they run (the JSON comes with its keys sorted).
  var ORDER = ["format", "signature", "board", "compat", "version", "size"];
  function byCheck(a, b) {
    var i = ORDER.indexOf(a), j = ORDER.indexOf(b);
    if (i < 0) { i = ORDER.length; }
    if (j < 0) { j = ORDER.length; }
    return i - j || (a < b ? -1 : a > b ? 1 : 0);
  }

  function showVerdict(verdict, options) {
    checked = options;
    var table = $("fw-checks");
    while (table.rows.length > 1) { table.deleteRow(1); }
    Object.keys(verdict.checks).sort(byCheck).forEach(function (name) {
      var check = verdict.checks[name], row = table.insertRow();
      row.className = "check-" + check.status;
      [name, check.status, check.detail].forEach(function (t) { row.insertCell().textContent = t; });
    });
    var text = "Every check passed: ready to install " + verdict.version + ".";
    if (!verdict.valid) {
      text = "Refused: a check failed; nothing will be written.";
      if (verdict.forceable && !options.force) {
        text += " Only the version check failed: tick \"Force\" and upload again to allow it.";
      }
      if (!verdict.keep_settings_possible && options.keep_settings) {
        text += " The settings cannot be kept: untick \"Keep settings\" and upload again.";
      }
    }
    $("fw-verdict").textContent = text;
    $("fw-install").disabled = !verdict.valid;
    $("fw-check").hidden = false;
  }

  // -- following an update to its end ---------------------------------------------------------

  function follow(mode) { // "install", "rollback" or "page" (opened while one runs)
    var away = false, started = Date.now();
    $("fw-progress").hidden = false;

    function phase(text, done, total) {
      var seconds = Math.round((Date.now() - started) / 1000);
      $("fw-phase").textContent = text + " (" + seconds + " s)";
      $("fw-bar").hidden = total === undefined;
      if (total) {
        $("fw-bar").value = done / total;
        $("fw-bar-text").textContent = Math.round(100 * done / total) + " %";
      } else {
        $("fw-bar-text").textContent = "";
      }
    }

    function rebooting() { phase("Rebooting: waiting for the router"); }

    function seen(s) {
      if (s.state === "writing" && !s.busy) {
        window.location.reload(); // nobody writes: interrupted (the page says so)
        return;
      } else if (s.state === "writing") {
        var p = s.progress || {done: 0, total: 1};
        phase("Writing firmware: do not power off", p.done, p.total);
      } else if (s.state === "installed") {
        rebooting();
      } else if (s.state === "trial") {
        phase("The new firmware is checking its health (trial)");
      } else if (mode === "rollback" && !away) {
        rebooting(); // the old firmware still answers until it goes down
      } else if (mode === "install" && !away && (s.state === "received" || s.state === "verified")) {
        phase("Starting the install");
      } else {
        window.location.reload(); // the outcome: the page renders it
        return;
      }
      setTimeout(poll, 1000);
    }

    function gone() { away = true; rebooting(); setTimeout(poll, 1000); }

    function poll() {
      fetch(api, {credentials: "same-origin", cache: "no-store"}).then(function (r) {
        if (r.status === 401) { window.location = root.dataset.login; return; }
        if (r.status !== 200) { gone(); return; }
        return r.json().then(seen);
      }).catch(gone);
    }
    poll();
  }

  function install(path, data, options) {
    lock(true);
    say("Starting the install...", "warn");
    post(path, data, function (status, body) {
      if (status === 202) {
        say("Installing " + body.version + " into slot " + body.slot + " (now running " +
            body.previous_version + ").", "warn");
        follow("install");
        return;
      }
      lock(false);
      if (body.verdict) { showVerdict(body.verdict, options); }
      say("Install refused: " + problem(status, body), "error");
    });
  }

  // -- the forms --------------------------------------------------------------------------------

  document.querySelectorAll("#firmware [data-needs-js]").forEach(function (b) { b.disabled = false; });

  var upload = $("fw-upload");
  upload.addEventListener("submit", function (event) {
    event.preventDefault();
    var file = upload.file.files[0];
    if (!file) { say("Choose a firmware file first.", "error"); return; }
    var options = {keep_settings: upload.keep_settings.checked, force: upload.force.checked};
    var bar = $("fw-upload-bar"), xhr = new XMLHttpRequest();
    bar.hidden = false;
    bar.value = 0;
    $("fw-check").hidden = true;
    lock(true);
    say("Uploading " + file.name + "...", "warn");
    xhr.open("POST", api + "/upload?keep_settings=" + options.keep_settings +
             "&force=" + options.force);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("X-CSRF-Token", token);
    xhr.upload.onprogress = function (e) { if (e.lengthComputable) { bar.value = e.loaded / e.total; } };
    xhr.upload.onload = function () { bar.value = 1; say("Uploaded; checking it...", "warn"); };
    xhr.onload = function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
      bar.hidden = true;
      lock(false);
      if (xhr.status === 200) {
        say("", "");
        showVerdict(body.verdict, options);
      } else {
        say("Upload refused: " + problem(xhr.status, body), "error");
      }
    };
    xhr.onerror = function () {
      bar.hidden = true;
      lock(false);
      say("The upload failed: the router did not answer.", "error");
    };
    xhr.send(file);
  });

  $("fw-install").addEventListener("click", function () {
    var box = $("fw-check").dataset;
    var options = checked || {keep_settings: box.keepSettings === "true", force: box.force === "true"};
    install("/install", options, options);
  });

  var rollback = $("fw-rollback");
  if (rollback) {
    rollback.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!window.confirm("Boot slot " + rollback.dataset.slot + " and reboot now?")) { return; }
      lock(true);
      post("/rollback", {}, function (status, body) {
        if (status === 202) {
          say("Rolling back to slot " + body.slot + " (" + body.version + ").", "warn");
          follow("rollback");
        } else {
          lock(false);
          say("Rollback refused: " + problem(status, body), "error");
        }
      });
    });
  }

  var server = $("fw-server");
  server.addEventListener("submit", function (event) {
    event.preventDefault();
    lock(true);
    post("/server/check", {url: server.url.value}, function (status, body) {
      lock(false);
      if (status !== 200) { say("Update check failed: " + problem(status, body), "error"); return; }
      say("", "");
      $("fw-offer").hidden = false;
      $("fw-offer-text").textContent = body.available
        ? "Version " + body.version + " is available (" + body.size + " bytes; running " +
          body.running_version + ")."
        : "Nothing newer: the server offers " + body.version + ", running " +
          body.running_version + ".";
      var button = $("fw-server-install");
      button.textContent = "Install " + body.version;
      button.hidden = !(body.available || server.force.checked);
    });
  });

  $("fw-server-install").addEventListener("click", function () {
    var options = {keep_settings: server.keep_settings.checked, force: server.force.checked};
    install("/server/install", Object.assign({url: server.url.value}, options), options);
  });

  if (root.dataset.follow) { follow("page"); }
})();
