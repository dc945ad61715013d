// Ask before switching on a protocol with a warning (PPTP); the server flashes it again.
document.querySelectorAll("input[data-warning]").forEach(function (box) {
  box.addEventListener("change", function () {
    if (box.checked && !window.confirm(box.dataset.warning + "\n\nEnable it?")) {
      box.checked = false;
    }
  });
});
