// Keyboard for the console: "/" focuses search, arrows move through results, Enter opens,
// Escape closes; "L" on an account page opens the interaction form.
(function () {
  "use strict";

  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  function searchInput() { return document.getElementById("global-search"); }
  function dropdown() { return document.getElementById("search-dropdown"); }
  function liveResults() { return Array.from(dropdown().querySelectorAll("a.result")); }

  function setActive(links, index) {
    links.forEach(function (a, i) {
      a.classList.toggle("active", i === index);
      a.setAttribute("aria-selected", i === index ? "true" : "false");
    });
    if (links[index]) links[index].scrollIntoView({ block: "nearest" });
  }

  function closeDropdown() {
    var box = dropdown();
    if (box) box.innerHTML = "";
    var input = searchInput();
    if (input) input.setAttribute("aria-expanded", "false");
  }

  document.addEventListener("keydown", function (event) {
    var input = searchInput();
    if (event.key === "/" && !typing(document.activeElement) && input) {
      event.preventDefault();
      input.focus();
      input.select();
      return;
    }
    if ((event.key === "l" || event.key === "L") && !typing(document.activeElement) && !event.ctrlKey && !event.metaKey && !event.altKey) {
      var button = document.getElementById("log-interaction");
      if (button) { event.preventDefault(); button.click(); }
      return;
    }
    if (input && document.activeElement === input) {
      var links = liveResults();
      var current = links.findIndex(function (a) { return a.classList.contains("active"); });
      if (event.key === "ArrowDown" && links.length) {
        event.preventDefault();
        setActive(links, Math.min(current + 1, links.length - 1));
      } else if (event.key === "ArrowUp" && links.length) {
        event.preventDefault();
        setActive(links, Math.max(current - 1, 0));
      } else if (event.key === "Enter" && current >= 0) {
        event.preventDefault();
        window.location.href = links[current].href;
      } else if (event.key === "Escape") {
        closeDropdown();
      }
      return;
    }
    // Full results page: arrows move between the rows' links.
    var table = document.querySelector("table[data-keynav]");
    if (table && (event.key === "ArrowDown" || event.key === "ArrowUp") && !typing(document.activeElement)) {
      var rowLinks = Array.from(table.querySelectorAll("tbody td:first-child a"));
      var at = rowLinks.indexOf(document.activeElement);
      var next = event.key === "ArrowDown" ? Math.min(at + 1, rowLinks.length - 1) : Math.max(at - 1, 0);
      if (rowLinks[next]) { event.preventDefault(); rowLinks[next].focus(); }
    }
    if (event.key === "Escape" && document.activeElement && document.activeElement.closest(".inline-form")) {
      var cancel = document.activeElement.closest(".inline-form").querySelector(".buttons a");
      if (cancel) cancel.click();
    }
  });

  document.addEventListener("click", function (event) {
    if (!event.target.closest(".search")) closeDropdown();
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target === dropdown()) {
      var input = searchInput();
      if (input) input.setAttribute("aria-expanded", liveResults().length ? "true" : "false");
    }
  });

  // Forms answer 422 with their errors; show them instead of dropping the response.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var input = searchInput();
    if (input && document.body.hasAttribute("data-focus-search")) input.focus();
    // A page's own search box (the full results page) takes "/" too.
    var page = document.getElementById("page-search");
    if (page && !page.value) page.focus();
  });
})();
