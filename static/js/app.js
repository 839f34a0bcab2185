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

// Search boxes that pick one item: <div data-combobox> holding an input[role=combobox], a
// hidden input[data-combobox-value] and a [role=listbox] that htmx fills with [role=option]s.
// Keyboard: ↓ ↑ move, Enter picks, Escape closes; typing again forgets the pick.
(function () {
  function parts(box) {
    return {
      input: box.querySelector("[role=combobox]"),
      value: box.querySelector("[data-combobox-value]"),
      list: box.querySelector("[role=listbox]"),
    };
  }
  function options(p) { return Array.prototype.slice.call(p.list.querySelectorAll("[role=option][data-value]")); }
  function setOpen(p, open) {
    p.list.hidden = !open;
    p.input.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) p.input.removeAttribute("aria-activedescendant");
  }
  function activate(p, index) {
    var all = options(p);
    all.forEach(function (o, i) { o.setAttribute("aria-selected", i === index ? "true" : "false"); });
    if (all[index]) {
      p.input.setAttribute("aria-activedescendant", all[index].id);
      all[index].scrollIntoView({ block: "nearest" });
    }
  }
  function active(p) {
    return options(p).findIndex(function (o) { return o.getAttribute("aria-selected") === "true"; });
  }
  function pick(p, option) {
    p.value.value = option.dataset.value;
    p.input.value = option.dataset.label;
    setOpen(p, false);
  }
  function boxOf(node) { return node && node.closest ? node.closest("[data-combobox]") : null; }

  document.addEventListener("htmx:afterSwap", function (event) {
    var box = boxOf(event.detail.target);
    if (!box) return;
    var p = parts(box);
    setOpen(p, p.list.children.length > 0 && document.activeElement === p.input);
    if (options(p).length) activate(p, 0);
  });
  document.addEventListener("input", function (event) {
    var box = boxOf(event.target);
    if (box && event.target.getAttribute("role") === "combobox") parts(box).value.value = "";
  });
  document.addEventListener("keydown", function (event) {
    var box = boxOf(event.target);
    if (!box || event.target.getAttribute("role") !== "combobox") return;
    var p = parts(box), all = options(p), index = active(p);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!all.length) return;
      event.preventDefault();
      if (p.list.hidden) { setOpen(p, true); activate(p, Math.max(index, 0)); return; }
      var step = event.key === "ArrowDown" ? 1 : -1;
      activate(p, (index + step + all.length) % all.length);
    } else if (event.key === "Enter" && !p.list.hidden && all[index]) {
      event.preventDefault();  // picks; it does not submit the form
      pick(p, all[index]);
    } else if (event.key === "Escape" && !p.list.hidden) {
      event.preventDefault();
      setOpen(p, false);
    }
  });
  // mousedown, not click: the input keeps its focus, so the list does not close first.
  document.addEventListener("mousedown", function (event) {
    var option = event.target.closest && event.target.closest("[role=option][data-value]");
    var box = boxOf(option);
    if (!box) return;
    event.preventDefault();
    pick(parts(box), option);
  });
  document.addEventListener("focusout", function (event) {
    var box = boxOf(event.target);
    if (box && event.target.getAttribute("role") === "combobox") setOpen(parts(box), false);
  });
})();
