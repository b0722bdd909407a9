// The admin's compose page: give the autocomplete boxes' search fields an
// accessible name (select2 renders them without a label; axe: "label").
// Select2 re-creates the field after each choice, so label it whenever it appears.
(() => {
  const form = () => document.getElementById("notification_send_form");
  function label() {
    const root = form();
    if (!root) return;
    for (const field of root.querySelectorAll(".select2-search__field:not([aria-label])")) {
      const row = field.closest(".form-row, .fieldBox, div[class*='field-']");
      const text = row?.querySelector("label")?.textContent.replace(/:\s*$/, "").trim();
      field.setAttribute("aria-label", text ? `Search ${text.toLowerCase()}` : "Search");
    }
  }
  document.addEventListener("DOMContentLoaded", () => {
    label();
    const root = form();
    if (root) new MutationObserver(label).observe(root, { childList: true, subtree: true });
  });
})();
