// Copy buttons: a <button class="copy" data-copy-target="ID"> copies the
// text of the element with that id to the clipboard and says so in its own
// label for a moment. Loaded as a file, never inline (the CSP forbids
// inline scripts); pages work without it, the text stays selectable.
"use strict";
document.addEventListener("click", function (ev) {
  var button = ev.target.closest("button.copy[data-copy-target]");
  if (!button) {
    return;
  }
  var source = document.getElementById(button.getAttribute("data-copy-target"));
  if (!source || !navigator.clipboard) {
    return;
  }
  var label = button.getAttribute("data-label") || button.textContent;
  button.setAttribute("data-label", label);
  navigator.clipboard.writeText(source.textContent.trim()).then(
    function () { button.textContent = "Copied"; },
    function () { button.textContent = "Select and copy"; }
  ).finally(function () {
    setTimeout(function () { button.textContent = label; }, 2000);
  });
});
