/* Small behaviours that must not be inline (the CSP forbids inline script). */
document.addEventListener("DOMContentLoaded", function () {
  /* Step-up: once approved, post the kept input back to the very action. */
  var form = document.querySelector("form[data-autosubmit]");
  if (form) { form.submit(); }
  /* Copy buttons (invitation links, recovery codes). */
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (source && navigator.clipboard) { navigator.clipboard.writeText(source.textContent.trim()); }
    });
  });
});
