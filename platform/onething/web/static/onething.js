/* OneThing's own few lines of JavaScript; every page works without them.
 *
 * 1. A refused htmx request is never dropped in silence. A refusal the server answers
 *    with the partial that says why (409, 413, 422) is swapped in like a success (the
 *    htmx-config in base.html); any other 4xx or 5xx, a lost connection or a timeout puts
 *    the server's message (or a plain one) in place: in the element named by the nearest
 *    data-refusal-to, else at the top of the form that sent it. A refused form's file
 *    inputs are emptied, so a file name left in the picker never looks like an upload.
 * 2. The error summary takes focus when it appears; its links bring their field into view.
 * 3. On a phone the one form shows one part at a time (its step list marks the current).
 * 4. A value the server folded (全角, a lower-case x, +86) is shown as it will be saved.
 * 5. The language links follow the address htmx puts in the bar (a filter, a page, a
 *    search), so that another language shows the same list, not the first page.
 * 6. Words typed into a form's search box while that form's request loads (a filter
 *    chosen a moment before) stay in the box the answer brings, caret and all.
 */
(function () {
  "use strict";

  function words(name) {
    var meta = document.querySelector("meta[name='onething-" + name + "']");
    return meta ? meta.content : "";
  }

  function refusalText(xhr) {
    // The server's own words: the message partial, or an error page's heading and text.
    if (xhr && xhr.responseText && /^\s*</.test(xhr.responseText)) {
      var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var found = doc.querySelectorAll(".error, .error-summary, [role=alert]");
      var parts = [];
      found.forEach(function (node) {
        // A heading and its paragraph read as two sentences, not run together.
        var blocks = node.querySelectorAll("h1, h2, h3, p, li");
        var text = (blocks.length ? Array.prototype.map.call(blocks, function (block) {
          return block.textContent;
        }).join(" ") : node.textContent).replace(/\s+/g, " ").trim();
        if (text && parts.indexOf(text) < 0 && !parts.some(function (p) { return p.indexOf(text) >= 0; })) {
          parts.push(text);
        }
      });
      if (parts.length) { return parts.join(" "); }
    }
    return words(xhr && xhr.status ? "refused" : "unreachable");
  }

  function clearFiles(elt) {
    var form = elt && (elt.tagName === "FORM" ? elt : elt.closest("form"));
    if (form && form.isConnected) {
      form.querySelectorAll("input[type=file]").forEach(function (input) { input.value = ""; });
    }
  }

  function showRefusal(elt, text) {
    var holder = elt.closest("[data-refusal-to]");
    var place = holder && document.getElementById(holder.getAttribute("data-refusal-to"));
    var message = document.createElement("p");
    message.className = "error refusal";
    message.setAttribute("role", "alert");
    message.textContent = text;
    if (place) {
      place.replaceChildren(message);
      return;
    }
    var form = elt.tagName === "FORM" ? elt : elt.closest("form");
    var old = form ? form.querySelector(":scope > .refusal") : elt.nextElementSibling;
    if (old && old.classList.contains("refusal")) { old.remove(); }
    if (form) { form.prepend(message); } else { elt.after(message); }
  }

  function refused(event) {
    var elt = event.detail.elt;
    if (!elt || !elt.isConnected) { return; }
    clearFiles(elt);
    showRefusal(elt, refusalText(event.detail.xhr));
  }

  document.addEventListener("htmx:responseError", refused);
  document.addEventListener("htmx:sendError", refused);
  document.addEventListener("htmx:timeout", refused);
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    var elt = event.detail.elt;
    if (!xhr || !elt) { return; }
    if (xhr.status >= 400) {
      clearFiles(elt);  // a refusal swapped in as a partial (409, 413, 422)
    } else if (xhr.status) {
      var form = elt.tagName === "FORM" ? elt : elt.closest("form");
      var old = form && form.querySelector(":scope > .refusal");
      if (old) { old.remove(); }
    }
  });

  // --- the error summary ------------------------------------------------------------------

  function focusSummary(scope, refusals) {
    // A swapped-out element (outerHTML) is no longer in the page: look in the page then.
    var root = scope && scope.isConnected !== false ? scope : document;
    var summary = root.querySelector("#error-summary")
      || (refusals && root.querySelector(".error.summary[role=alert]"));
    if (summary) {
      // Into sight and focus: a refusal at the top of a long form, answered in place,
      // would otherwise be above the screen while the page seems not to react.
      if (!summary.hasAttribute("tabindex")) { summary.setAttribute("tabindex", "-1"); }
      summary.focus();
    }
  }

  // --- the one form, one part at a time on a phone ----------------------------------------

  var narrow = window.matchMedia("(max-width: 48rem)");

  function steppedForm() {
    return document.querySelector("form.one-form.stepped");
  }

  function showSection(form, section, focusHeading) {
    var sections = Array.prototype.slice.call(form.querySelectorAll(".form-section"));
    var index = sections.indexOf(section);
    if (index < 0) { return; }
    sections.forEach(function (each) { each.classList.toggle("current", each === section); });
    form.classList.toggle("at-last", index === sections.length - 1);
    form.querySelectorAll(".form-steps a").forEach(function (link, number) {
      if (number === index) { link.setAttribute("aria-current", "step"); }
      else { link.removeAttribute("aria-current"); }
    });
    if (focusHeading) {
      var heading = section.querySelector("h2");
      if (heading) { heading.focus(); }
      form.scrollIntoView({ block: "start" });
    }
  }

  function sectionOf(form, id) {
    var target = id && document.getElementById(id);
    return target && form.contains(target) ? target.closest(".form-section") : null;
  }

  function setUpSteps() {
    var form = document.querySelector("form.one-form");
    if (!form || form.querySelectorAll(".form-section").length < 2) { return; }
    if (!narrow.matches) {
      form.classList.remove("stepped", "at-last");
      return;
    }
    form.classList.add("stepped");
    var invalid = form.querySelector(".field.invalid");
    var section = sectionOf(form, decodeURIComponent(location.hash.slice(1)))
      || (invalid && invalid.closest(".form-section"))
      || form.querySelector(".form-section");
    showSection(form, section, false);
  }

  // A link to a part or a field of the form (the step list, "previous", the error
  // summary) shows the part that holds it, then gives the field focus.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href^='#']");
    if (!link) { return; }
    var id = decodeURIComponent(link.getAttribute("href").slice(1));
    var target = document.getElementById(id);
    if (!target) { return; }
    var form = steppedForm();
    var section = form && sectionOf(form, id);
    var field = target.matches("input, select, textarea") ? target
      : target.querySelector("input, select, textarea");
    if (section) {
      event.preventDefault();
      history.replaceState(null, "", "#" + id);
      showSection(form, section, target === section);
      if (target !== section) {
        target.scrollIntoView({ block: "center" });
        if (field) { field.focus({ preventScroll: true }); }
      }
    } else if (link.closest("#error-summary") && field) {
      event.preventDefault();
      target.scrollIntoView({ block: "center" });
      field.focus({ preventScroll: true });
    }
  });

  // --- a folded value ---------------------------------------------------------------------

  document.addEventListener("onething:folded", function (event) {
    var input = event.target;
    if (input && input.tagName !== "SELECT" && "value" in input && event.detail
        && typeof event.detail.value === "string") {
      input.value = event.detail.value;
    }
  });

  // --- the start page: a question asked only once an answer makes it needed ---------------

  function hideUnasked() {
    var state = document.getElementById("unasked");
    if (!state) return;
    var hidden = (state.getAttribute("data-unasked") || "").split(" ");
    (state.getAttribute("data-conditional") || "").split(" ").forEach(function (key) {
      var box = key && document.getElementById("f-" + key + "-field");
      if (box) box.hidden = hidden.indexOf(key) !== -1;
    });
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    hideUnasked();
    // A refusal takes focus when a person sent something (a click, a form): never while
    // they type in a live preview, whose refusals would pull the caret away.
    var config = event.detail.requestConfig;
    var trigger = config && config.triggeringEvent;
    focusSummary(event.detail.elt,
                 !trigger || trigger.type === "submit" || trigger.type === "click");
  });
  function ready() {
    setUpSteps();
    hideUnasked();
    focusSummary(document, true);
    // A page answering a refused post names the address to keep in the history: Back to
    // it, or a reload, then opens that page rather than asking to post again.
    var address = document.querySelector("[data-address]");
    if (address && window.history && history.replaceState) {
      history.replaceState(null, "", address.getAttribute("data-address"));
    }
  }
  if (narrow.addEventListener) { narrow.addEventListener("change", setUpSteps); }
  window.addEventListener("hashchange", function () {
    var form = steppedForm();
    var section = form && sectionOf(form, decodeURIComponent(location.hash.slice(1)));
    if (section) { showSection(form, section, false); }
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
  // 5. The server wrote the language links for the address the page was loaded at.
  function followAddress() {
    document.querySelectorAll("nav.languages a[hreflang]").forEach(function (link) {
      var url = new URL(window.location.href);
      url.searchParams.set("lang", link.getAttribute("hreflang"));
      link.setAttribute("href", url.pathname + url.search);
    });
  }
  document.addEventListener("htmx:pushedIntoHistory", followAddress);
  document.addEventListener("htmx:historyRestore", followAddress);
  // 6. The answer holds the box as it was sent; what was typed since is put back.
  function searchBox(elt) {
    return elt && elt.querySelector ? elt.querySelector("input[type=search][id]") : null;
  }
  var typed = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    var box = searchBox(event.detail.elt);
    if (box) { box.setAttribute("data-sent", box.value); }
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var config = event.detail.requestConfig;
    var box = searchBox(config && config.elt);
    typed = box && box.hasAttribute("data-sent") && box.value !== box.getAttribute("data-sent")
      ? {id: box.id, value: box.value, start: box.selectionStart, end: box.selectionEnd,
         focused: document.activeElement === box}
      : null;
  });
  document.addEventListener("htmx:afterSwap", function () {
    var box = typed && document.getElementById(typed.id);
    if (box && box.value !== typed.value) {
      box.value = typed.value;
      if (typed.focused) { box.setSelectionRange(typed.start, typed.end); }
    }
    typed = null;
  });
}());
