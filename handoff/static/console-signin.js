/* A console page the signed-in agent's role does not open (the server answered 403): the top
 * bar still shows who is signed in, and the sign-in form when nobody is. A file of its own, not
 * an inline <script>: the pages' Content-Security-Policy runs scripts from this origin only. */
(function () {
  "use strict";
  window.Console.signIn();
})();
