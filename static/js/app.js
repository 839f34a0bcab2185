// The details panel of a conversation: toggled from the header, remembered per browser.
(function () {
  var KEY = "inbox.details";
  var narrow = window.matchMedia("(max-width: 860px)");

  function apply(root, open) {
    root.dataset.details = open ? "open" : "closed";
    document.querySelectorAll("#details-toggle").forEach(function (button) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("conversation");
    if (!root) return;
    // On a phone the panel covers the thread, so it starts closed there.
    var stored = localStorage.getItem(KEY);
    apply(root, narrow.matches ? false : stored !== "closed");
    document.addEventListener("click", function (event) {
      if (!event.target.closest("[data-toggle-details]")) return;
      var open = root.dataset.details !== "open";
      apply(root, open);
      if (!narrow.matches) localStorage.setItem(KEY, open ? "open" : "closed");
    });
  });

  // An expired session answers htmx with 401 + HX-Redirect; htmx follows the redirect itself.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.status === 400 && event.detail.target) {
      event.detail.target.insertAdjacentHTML("afterbegin", xhr.responseText);
    }
  });
})();

// Copy buttons: <button data-copy="#selector">.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var source = document.querySelector(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(function () {
    var label = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = label; }, 1500);
  });
});

// Forms that ask first: <form data-confirm="Question?"> (instead of an inline onsubmit).
document.addEventListener("submit", function (event) {
  var form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});

// A refused htmx form (422) names where its messages go (HX-Retarget): swap them in there.
document.addEventListener("htmx:beforeSwap", function (event) {
  var xhr = event.detail.xhr;
  if (xhr && xhr.status === 422 && xhr.getResponseHeader("HX-Retarget")) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
