// Phone tables (static/css/app.css): each cell is shown with its column's heading,
// copied here from the table's <thead> into data-label. Tables that change later
// (a stream adding rows) are relabelled when their rows change.
(function () {
  "use strict";
  function label(table) {
    var heads = table.tHead ? table.tHead.rows[0] : null;
    if (!heads) return;
    var names = [];
    Array.prototype.forEach.call(heads.cells, function (th) {
      var span = th.colSpan || 1;
      for (var i = 0; i < span; i++) names.push(th.textContent.trim());
    });
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        var column = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          if (!cell.hasAttribute("data-label") && cell.colSpan === 1) {
            cell.setAttribute("data-label", names[column] || "");
          }
          column += cell.colSpan || 1;
        });
      });
    });
  }
  function all() {
    document.querySelectorAll("table:not(.keep-table)").forEach(function (table) {
      label(table);
      if (table.tBodies.length && !table.dataset.labelWatch && window.MutationObserver) {
        table.dataset.labelWatch = "1";
        new MutationObserver(function () { label(table); })
          .observe(table, { childList: true, subtree: true });
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", all);
  else all();
})();
