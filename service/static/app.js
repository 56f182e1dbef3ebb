/* Thresher's page: send the pasted text to POST /v1/score and show the answer.
 *
 * Everything that comes from the article (or from the server) is put into the page with textContent
 * and createElement, never as HTML, so pasted markup stays text. No libraries, no build step. */
(function () {
  "use strict";

  var CATEGORY_LABELS = {
    content: "content",
    cookie: "cookie banner",
    related: "related links",
    comments: "comments",
    share: "share buttons",
    newsletter: "newsletter",
    author: "author box",
    navigation: "navigation",
    legal: "legal / copyright",
    ads: "ads",
    caption: "caption",
    title_site: "site name in title",
    meta: "metadata",
    spam: "spam",
  };
  var VERDICTS = ["reliable", "suspect", "unreliable"];
  var EVIDENCE_SHOWN = 4; // per reason; the rest fold into a <details>
  var SNIPPET_CHARS = 90;

  var form, textArea, keyInput, keyDetails, explainBox, button;
  var errorBox, errorCode, errorMessage;
  var resultPanel, reasonsPanel, textPanel;
  var busy = false;

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function safeToken(value) {
    return typeof value === "string" && /^[a-z0-9_-]+$/i.test(value) ? value : "other";
  }

  function categoryLabel(category) {
    return Object.prototype.hasOwnProperty.call(CATEGORY_LABELS, category)
      ? CATEGORY_LABELS[category]
      : String(category);
  }

  function signed(value) {
    var n = Number(value);
    if (!isFinite(n)) return String(value);
    var rounded = Math.round(n * 10) / 10;
    if (rounded === 0) return "0.0";
    return (rounded > 0 ? "+" : "-") + Math.abs(rounded).toFixed(1);
  }

  function snippet(text) {
    var s = String(text).replace(/\s+/g, " ").trim();
    return s.length > SNIPPET_CHARS ? s.slice(0, SNIPPET_CHARS - 1) + "…" : s;
  }

  /* The text's lines, numbered as the server numbers them (it unifies newlines the same way). */
  function splitLines(text) {
    return text
      .normalize("NFC")
      .replace(/\r\n|\r/g, "\n")
      .replace(/\v/g, "\n") // as the server reads them: a vertical tab breaks a line, a form feed a paragraph
      .replace(/\f/g, "\n\n")
      .replace(/\u2028/g, "\n")
      .replace(/\u2029/g, "\n\n")
      .split("\n");
  }

  // ------------------------------------------------------------------------------------------ errors

  var errorTimer = 0;

  /* An alert is announced when it appears or its text changes: the same error again, written into the box
   * that shows it, would change nothing and be said once only. A box already shown is emptied and hidden,
   * then filled a moment later (once the browser has told assistive technology that it is empty). */
  function showError(code, message) {
    var again = !errorBox.hidden;
    hideError();
    function fill() {
      errorTimer = 0;
      errorCode.textContent = code;
      errorMessage.textContent = message;
      errorBox.hidden = false;
    }
    if (again) errorTimer = setTimeout(fill, 100);
    else fill();
  }

  function hideError() {
    clearTimeout(errorTimer);
    errorTimer = 0;
    errorBox.hidden = true;
    errorCode.textContent = "";
    errorMessage.textContent = "";
  }

  function hideResult() {
    resultPanel.hidden = true;
    reasonsPanel.hidden = true;
    textPanel.hidden = true;
  }

  // ------------------------------------------------------------------------------------------ summary

  function renderSummary(data) {
    var score = Number(data.score);
    // cut, not rounded, to one decimal (as service.scoring.shown_score): 69.96 beside "suspect" is 69.9, not 70.0
    $("score").textContent = isFinite(score) ? (Math.floor(score * 10) / 10).toFixed(1) : "–";
    var bar = $("score-bar");
    bar.style.width = (isFinite(score) ? Math.max(0, Math.min(100, score)) : 0) + "%";

    var verdict = $("verdict");
    var v = VERDICTS.indexOf(data.verdict) >= 0 ? data.verdict : "other";
    verdict.textContent = data.verdict == null ? "" : String(data.verdict);
    verdict.className = "verdict verdict-" + v;
    bar.className = "bar-fill verdict-" + v;

    var model = data.model || {};
    $("model").textContent = [model.name, model.version].filter(function (x) { return x != null; }).join(" ");
    var ms = Number(data.elapsed_ms);
    $("elapsed").textContent = isFinite(ms) ? ms.toFixed(1) + " ms" : "";
    var stats = data.stats || {};
    $("words").textContent = stats.words != null ? String(stats.words) : "";
    var lang = data.language || {};
    var langText = lang.code ? String(lang.code) : "unknown";
    if (lang.code && typeof lang.probability === "number") langText += " (" + lang.probability.toFixed(2) + ")";
    $("language").textContent = langText;
    resultPanel.hidden = false;
  }

  // ------------------------------------------------------------------------------------------ reasons

  function isMisspelling(item) {
    return item && typeof item.found === "string" && typeof item.intended === "string" && item.found !== "";
  }

  function lineLink(line, lineCount) {
    var n = Number(line);
    if (!Number.isInteger(n) || n < 1) return null;
    if (n > lineCount) return el("span", "ev-line", "line " + n);
    var a = el("a", "ev-line", "line " + n);
    a.href = "#L" + n;
    return a;
  }

  /* A quoted line of the article, in its own direction: a right-to-left line inside this left-to-right
   * list keeps its words and punctuation in their order. */
  function quote(text) {
    var q = el("q", "ev-text", snippet(text));
    q.dir = "auto";
    return q;
  }

  function evidenceItem(item, lineCount) {
    var li = el("li", "evidence");
    if (item === null || typeof item !== "object") {
      li.textContent = String(item);
      return li;
    }
    var link = item.line != null ? lineLink(item.line, lineCount) : null;
    if (link) {
      li.appendChild(link);
      li.appendChild(document.createTextNode(" "));
    }
    if (isMisspelling(item)) {
      li.appendChild(el("span", "ev-found", item.found));
      li.appendChild(document.createTextNode(" → "));
      li.appendChild(el("span", "ev-intended", item.intended));
      var extra = [];
      if (typeof item.count === "number" && item.count > 1) extra.push("×" + item.count);
      if (item.source) extra.push(String(item.source));
      if (extra.length) li.appendChild(el("span", "ev-meta", " " + extra.join(", ")));
    } else if (typeof item.category === "string") {
      var tag = el("span", "ev-cat cat-" + safeToken(item.category), categoryLabel(item.category));
      li.appendChild(tag);
      if (item.text != null) li.appendChild(quote(item.text));
      if (typeof item.confidence === "number") {
        li.appendChild(el("span", "ev-meta", " " + item.confidence.toFixed(2)));
      }
    } else if (typeof item.language === "string") {
      var langText = item.language;
      if (typeof item.probability === "number") langText += " " + item.probability.toFixed(2);
      li.appendChild(el("span", "ev-text", langText));
    } else if (item.text != null) {
      li.appendChild(quote(item.text));
      if (item.kind) li.appendChild(el("span", "ev-meta", " " + String(item.kind)));
    } else {
      var parts = [];
      Object.keys(item).forEach(function (key) {
        if (key === "line") return;
        var value = item[key];
        parts.push(key + ": " + (typeof value === "object" ? JSON.stringify(value) : String(value)));
      });
      li.appendChild(el("span", "ev-text", snippet(parts.join(", "))));
    }
    return li;
  }

  function renderReasons(reasons, lineCount) {
    var list = $("reasons");
    list.replaceChildren();
    (reasons || []).forEach(function (reason) {
      var c = Math.round(Number(reason.contribution) * 10) / 10; // coloured as shown: "0.0" is neither
      var li = el("li", "reason " + (c < 0 ? "negative" : c > 0 ? "positive" : "neutral"));
      var head = el("div", "reason-head");
      head.appendChild(el("span", "contribution", signed(reason.contribution)));
      head.appendChild(el("code", "reason-code", reason.code));
      li.appendChild(head);
      li.appendChild(el("p", "reason-message", reason.message));
      var evidence = Array.isArray(reason.evidence) ? reason.evidence : [];
      if (evidence.length) {
        var ul = el("ul", "evidence-list");
        evidence.slice(0, EVIDENCE_SHOWN).forEach(function (item) { ul.appendChild(evidenceItem(item, lineCount)); });
        li.appendChild(ul);
        if (evidence.length > EVIDENCE_SHOWN) {
          var more = el("details", "more-evidence");
          more.appendChild(el("summary", null, (evidence.length - EVIDENCE_SHOWN) + " more"));
          var rest = el("ul", "evidence-list");
          evidence.slice(EVIDENCE_SHOWN).forEach(function (item) { rest.appendChild(evidenceItem(item, lineCount)); });
          more.appendChild(rest);
          li.appendChild(more);
        }
      }
      list.appendChild(li);
    });
    reasonsPanel.hidden = false;
  }

  // ------------------------------------------------------------------------------------------ text

  function escapeRegExp(s) {
    return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  function patternFor(found, strict) {
    var body = found.trim().split(/\s+/).map(escapeRegExp).join("\\s+");
    if (!strict) return new RegExp(body, "giu");
    return new RegExp("(?<![\\p{L}\\p{N}])" + body + "(?![\\p{L}\\p{N}])", "gu");
  }

  function matches(text, item, strict) {
    var found = [];
    var re = patternFor(item.found, strict);
    var m;
    while ((m = re.exec(text)) !== null) {
      if (m[0].length === 0) { re.lastIndex += 1; continue; }
      found.push([m.index, m.index + m[0].length, item.intended]);
    }
    return found;
  }

  /* Ranges [start, end, intended] of the misspellings in one line, without overlaps: ``items`` are the
   * misspellings the evidence places on this line (a loose match only when the word-bounded one finds
   * nothing), ``elsewhere`` those it places on another line but counts more than once (the evidence names
   * only the first line of a word the text misspells several times): their other copies, word-bounded. */
  function misspellingRanges(text, items, elsewhere) {
    var ranges = [];
    items.forEach(function (item) {
      var found = matches(text, item, true);
      ranges = ranges.concat(found.length ? found : matches(text, item, false));
    });
    elsewhere.forEach(function (item) { ranges = ranges.concat(matches(text, item, true)); });
    ranges.sort(function (a, b) { return a[0] - b[0] || (b[1] - b[0]) - (a[1] - a[0]); });
    var out = [];
    var end = -1;
    ranges.forEach(function (r) {
      if (r[0] >= end) { out.push(r); end = r[1]; }
    });
    return out;
  }

  function lineText(text, items, elsewhere) {
    var span = el("span", "lt");
    span.dir = "auto"; // an Arabic or Hebrew line reads right to left, its full stop at its end
    var ranges = items.length || elsewhere.length ? misspellingRanges(text, items, elsewhere) : [];
    var pos = 0;
    ranges.forEach(function (r) {
      if (r[0] > pos) span.appendChild(document.createTextNode(text.slice(pos, r[0])));
      var mark = el("span", "misspelling", text.slice(r[0], r[1]));
      mark.title = "Intended: " + r[2];
      mark.setAttribute("data-intended", r[2]);
      mark.tabIndex = 0;
      span.appendChild(mark);
      pos = r[1];
    });
    if (pos < text.length) span.appendChild(document.createTextNode(text.slice(pos)));
    return span;
  }

  /* The intended spelling shows above a marked word, from its left end; a word near the right edge gets it
   * from its right end instead, so that the tip stays on the screen (a phone's, say). Measured when shown:
   * the width of a line depends on the window's. */
  function placeTip(mark) {
    mark.classList.remove("tip-end");
    var tip = getComputedStyle(mark, "::after");
    var width = parseFloat(tip.width) + parseFloat(tip.paddingLeft) + parseFloat(tip.paddingRight);
    var first = mark.getClientRects()[0];
    if (first && isFinite(width) && first.left + width > document.documentElement.clientWidth - 4) {
      mark.classList.add("tip-end");
    }
  }

  function onTipShown(event) {
    var mark = event.target && event.target.closest ? event.target.closest(".misspelling") : null;
    if (mark) placeTip(mark);
  }

  function renderText(submitted, data) {
    var lines = splitLines(submitted);
    while (lines.length > 1 && lines[lines.length - 1].trim() === "") lines.pop(); // trailing blanks say nothing
    var categories = new Map();
    var labelled = Array.isArray(data.lines);
    if (labelled) {
      data.lines.forEach(function (entry) {
        if (entry && Number.isInteger(entry.line)) categories.set(entry.line, String(entry.category));
      });
    }
    var perLine = new Map();
    var everywhere = [];
    var repeated = []; // misspelt more than once: the evidence's line is the first of them
    (data.reasons || []).forEach(function (reason) {
      (Array.isArray(reason.evidence) ? reason.evidence : []).forEach(function (item) {
        if (!isMisspelling(item)) return;
        if (Number.isInteger(item.line)) {
          if (!perLine.has(item.line)) perLine.set(item.line, []);
          perLine.get(item.line).push(item);
          if (typeof item.count === "number" && item.count > 1) repeated.push(item);
        } else {
          everywhere.push(item);
        }
      });
    });

    var list = $("lines");
    list.replaceChildren();
    var seen = [];
    var anyMisspelling = false;
    lines.forEach(function (raw, index) {
      var number = index + 1;
      var li = el("li", "line");
      li.id = "L" + number;
      li.tabIndex = -1;
      li.appendChild(el("span", "ln", number));
      if (raw.trim() === "") {
        li.classList.add("blank");
      } else {
        var category = categories.get(number);
        if (category !== undefined) {
          li.classList.add("cat-" + safeToken(category));
          li.setAttribute("data-category", category);
          if (seen.indexOf(category) < 0) seen.push(category);
          if (category !== "content") li.classList.add("boilerplate");
        }
        var items = (perLine.get(number) || []).concat(everywhere);
        var elsewhere = repeated.filter(function (item) { return item.line !== number; });
        var textSpan = lineText(raw, items, elsewhere);
        if (textSpan.querySelector(".misspelling")) anyMisspelling = true;
        li.appendChild(textSpan);
        if (category !== undefined && category !== "content") {
          li.appendChild(el("span", "cat-tag", categoryLabel(category)));
        }
      }
      list.appendChild(li);
    });
    renderLegend(seen, anyMisspelling, labelled);
    textPanel.hidden = false;
  }

  function renderLegend(categories, anyMisspelling, labelled) {
    var legend = $("legend");
    legend.replaceChildren();
    var order = Object.keys(CATEGORY_LABELS);
    categories.slice().sort(function (a, b) {
      var ia = order.indexOf(a), ib = order.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
    }).forEach(function (category) {
      var li = el("li", "legend-item");
      li.setAttribute("data-category", category);
      li.appendChild(el("span", "swatch cat-" + safeToken(category)));
      li.appendChild(document.createTextNode(categoryLabel(category)));
      legend.appendChild(li);
    });
    if (anyMisspelling) {
      var li = el("li", "legend-item");
      li.appendChild(el("span", "misspelling sample", "name"));
      li.appendChild(document.createTextNode("misspelled name (hover for the intended spelling)"));
      legend.appendChild(li);
    }
    if (!labelled) {
      legend.appendChild(el("li", "legend-item", "Line labels are shown when “Explain” is on."));
    }
  }

  // ------------------------------------------------------------------------------------------ request

  function setBusy(on) {
    busy = on;
    // aria-disabled, not disabled: a disabled button loses the focus, and a keyboard user who pressed it
    // would find themselves back at the top of the page. `busy` keeps a second press from sending again.
    button.setAttribute("aria-disabled", on ? "true" : "false");
    button.textContent = on ? "Scoring…" : "Score";
    resultPanel.setAttribute("aria-busy", on ? "true" : "false");
    [resultPanel, reasonsPanel, textPanel].forEach(function (p) { p.classList.toggle("pending", on); });
  }

  function markStale(on) { // the result shown is of another text than the one in the box
    [resultPanel, reasonsPanel, textPanel].forEach(function (p) { p.classList.toggle("stale", on); });
    $("stale-note").hidden = !on;
  }

  function errorFromResponse(status, body) {
    var err = body && typeof body === "object" && body.error && typeof body.error === "object" ? body.error : null;
    var code = err && err.code ? String(err.code) : "http_" + status;
    var message = err && err.message ? String(err.message) : "The server answered HTTP " + status + ".";
    if (status === 401) {
      keyDetails.open = true;
      keyInput.focus();
      message = keyInput.value.trim()
        ? "The server refused this API key. Check the key under “API key” and score again."
        : "This server needs an API key. Enter one under “API key” and score again.";
    }
    return { code: code, message: message };
  }

  function score() {
    if (busy) return;
    var text = textArea.value;
    var headers = { "Content-Type": "application/json", Accept: "application/json" };
    var key = keyInput.value.trim();
    if (key) headers.Authorization = "Bearer " + key;
    var url = "/v1/score?explain=" + (explainBox.checked ? "true" : "false");
    setBusy(true);
    fetch(url, { method: "POST", headers: headers, body: JSON.stringify({ text: text }), credentials: "same-origin" })
      .then(function (response) {
        return response.text().then(function (raw) {
          var body = null;
          try { body = JSON.parse(raw); } catch (e) { body = null; }
          return { status: response.status, ok: response.ok, body: body, raw: raw };
        });
      })
      .then(function (answer) {
        if (!answer.ok || !answer.body || typeof answer.body !== "object" || answer.body.error) {
          var err = errorFromResponse(answer.status, answer.body);
          if (!answer.body && answer.raw && answer.status !== 401) err.message += " " + snippet(answer.raw);
          hideResult();
          showError(err.code, err.message);
          return;
        }
        hideError();
        markStale(textArea.value !== text);
        var data = answer.body;
        var lineCount = splitLines(text).length;
        renderSummary(data);
        renderReasons(data.reasons, lineCount);
        renderText(text, data);
      })
      .catch(function (e) {
        hideResult();
        showError("network", "The server could not be reached (" + (e && e.message ? e.message : e) + ").");
      })
      .then(function () { setBusy(false); });
  }

  function init() {
    form = $("score-form");
    textArea = $("text");
    keyInput = $("api-key");
    keyDetails = $("key-details");
    explainBox = $("explain");
    button = $("score-button");
    errorBox = $("error");
    errorCode = $("error-code");
    errorMessage = $("error-message");
    resultPanel = $("result");
    reasonsPanel = $("reasons-panel");
    textPanel = $("text-panel");

    $("lines").addEventListener("focusin", onTipShown);
    $("lines").addEventListener("mouseover", onTipShown);
    textArea.addEventListener("input", function () { if (!resultPanel.hidden && !busy) markStale(true); });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      score();
    });
    form.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        score();
      }
    });
    document.documentElement.classList.add("js");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
