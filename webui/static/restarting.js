// Poll the status API until the router answers, then go home (or to login if logged out).
(function () {
  var p = document.getElementById("restarting");
  function poll() {
    fetch(p.dataset.statusUrl, {credentials: "same-origin"}).then(function (r) {
      if (r.status === 200) { window.location = p.dataset.home; }
      else if (r.status === 401) { window.location = p.dataset.login; }
      else { setTimeout(poll, 1000); }
    }).catch(function () { setTimeout(poll, 1000); });
  }
  setTimeout(poll, 1500);
})();
