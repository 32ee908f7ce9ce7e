// The receipt's copy and share buttons: an enhancement. Without JavaScript the query code
// and the link stay on the page as selectable text, and the PDF link prints the receipt.
(function () {
  "use strict";
  function textOf(selector) {
    var node = document.querySelector(selector);
    return node ? (node.getAttribute("href") || node.textContent).trim() : "";
  }
  function say(button, key) {
    var status = button.parentNode.querySelector("[role=status]");
    if (status) { status.textContent = status.getAttribute(key); }
  }
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    if (!navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(textOf(button.getAttribute("data-copy"))).then(
        function () { say(button, "data-copied"); },
        function () { say(button, "data-failed"); });
    });
  });
  document.querySelectorAll("[data-share]").forEach(function (button) {
    if (!navigator.share) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.share({title: button.getAttribute("data-share-title"),
                       url: textOf(button.getAttribute("data-share"))}).catch(function () {});
    });
  });
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
