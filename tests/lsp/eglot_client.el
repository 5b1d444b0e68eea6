;;; eglot_client.el --- Emacs eglot (Debian's elpa-eglot) as a real client of `torchexam lsp'  -*- lexical-binding: t -*-
;;
;; Run in batch mode by CTest under with_daemon.sh (a private daemon):
;;   emacs --batch -l tests/lsp/eglot_client.el
;; Opens a task's solution in c++-mode with eglot, saves a syntax error and
;; waits for the diagnostic (flymake, at its line), then runs the server's
;; "submit & grade" code action through `eglot-execute-command' and waits for
;; the compile_error verdict: its message and its diagnostic. Waits are
;; `accept-process-output' loops on a condition with a deadline.
;; Exits 0 when every check passed, 1 otherwise.

(require 'package)
(package-initialize)
(require 'eglot)
(require 'cl-lib)

(defvar te-events nil "Notifications from the server, newest first: (METHOD . PLIST).")
(advice-add 'eglot-handle-notification :before
            (lambda (_server method &rest params) (push (cons method params) te-events)))

(defun te-fail (fmt &rest args)
  (message "FAILED: %s" (apply #'format fmt args))
  (dolist (e (reverse te-events)) (message "  %s %S" (car e) (cdr e)))
  (kill-emacs 1))

(defun te-wait (what seconds pred)
  (let ((deadline (+ (float-time) seconds)) found)
    (while (and (not (setq found (funcall pred))) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (or found (te-fail "timed out after %ss waiting for %s" seconds what))))

(defun te-find (method pred)
  "The newest notification METHOD whose params satisfy PRED."
  (cl-loop for (m . params) in te-events
           when (and (eq m method) (funcall pred params)) return params))

(defun te-main ()
  (let* ((bin (getenv "TORCHEXAM_BIN"))
         (ws (expand-file-name "eglot" (getenv "TORCHEXAM_TEST_ROOT")))
         (tiny (expand-file-name "tests/environments/tiny" (getenv "TORCHEXAM_SOURCE_DIR")))
         (solution (expand-file-name "fashion_mnist/solution.cpp" ws))
         (uri nil) (server nil))
    (with-temp-buffer
      (unless (eql 0 (call-process bin nil t nil "start" tiny "--workspace" ws "--json"))
        (te-fail "torchexam start: %s" (buffer-string))))
    ;; As docs/editors.md says, with the build's torchexam.
    (add-to-list 'eglot-server-programs `((c++-mode c++-ts-mode) . (,bin "lsp")))
    (find-file solution)
    (unless (eq major-mode 'c++-mode) (te-fail "%s opened in %s" solution major-mode))
    (apply #'eglot (eglot--guess-contact))
    (setq server (te-wait "the server" 20 #'eglot-current-server))
    (setq uri (eglot--path-to-uri solution))
    (message "eglot %s attached to %s" (jsonrpc-name server) solution)

    ;; 1. A syntax error saved on line 12: flymake shows it there.
    (goto-char (point-min))
    (forward-line 11)
    (insert "int broken_here = ;\n")
    (save-buffer)
    (let ((d (te-wait "the syntax diagnostic" 120
                      (lambda () (car (cl-remove-if-not (lambda (d) (eq (flymake-diagnostic-type d) 'eglot-error))
                                                        (flymake-diagnostics)))))))
      (unless (= 12 (line-number-at-pos (flymake-diagnostic-beg d)))
        (te-fail "diagnostic on line %d, expected 12: %s" (line-number-at-pos (flymake-diagnostic-beg d))
                 (flymake-diagnostic-text d)))
      (message "flymake: line 12: %s" (flymake-diagnostic-text d)))

    ;; 2. The server's code action, executed the way eglot executes one.
    (let* ((actions (jsonrpc-request server :textDocument/codeAction
                                     `(:textDocument (:uri ,uri)
                                       :range (:start (:line 0 :character 0) :end (:line 0 :character 0))
                                       :context (:diagnostics []))))
           (submit (cl-find-if (lambda (a) (equal (plist-get (plist-get a :command) :command) "torchexam.submit"))
                               actions)))
      (unless submit (te-fail "no torchexam.submit among the code actions: %S" actions))
      (message "code action: %s" (plist-get submit :title))
      (let ((result (eglot-execute-command server "torchexam.submit" (plist-get (plist-get submit :command) :arguments))))
        (message "submitted: %S" result)
        (unless (equal (plist-get result :task) "fashion_mnist") (te-fail "submit answered %S" result))))

    ;; 3. The verdict: a message, and the compiler's error at its line.
    (let ((shown (te-wait "the verdict message" 300
                          (lambda () (te-find 'window/showMessage
                                              (lambda (p) (string-prefix-p "fashion_mnist: " (plist-get p :message))))))))
      (unless (string-match-p "^fashion_mnist: 0/5 (compile_error) — " (plist-get shown :message))
        (te-fail "message: %s" (plist-get shown :message)))
      (message "message: %s" (plist-get shown :message)))
    (let* ((published (te-wait "the compile_error diagnostic" 60
                               (lambda () (te-find 'textDocument/publishDiagnostics
                                                   (lambda (p) (and (equal (plist-get p :uri) uri)
                                                                    (cl-some (lambda (d) (equal (plist-get d :code) "compile_error"))
                                                                             (plist-get p :diagnostics))))))))
           (d (cl-find-if (lambda (d) (equal (plist-get d :code) "compile_error")) (plist-get published :diagnostics))))
      (unless (= 11 (plist-get (plist-get (plist-get d :range) :start) :line))
        (te-fail "compile_error diagnostic at %S" (plist-get d :range))))
    ;; eglot 1.9 does not advertise work-done progress: the log carries it.
    (unless (te-find 'window/logMessage (lambda (p) (string-match-p "Grading fashion_mnist (submission [0-9]+): building"
                                                                     (plist-get p :message))))
      (te-fail "no progress in window/logMessage"))
    (when (te-find '$/progress #'identity) (te-fail "$/progress sent to a client without work-done progress"))

    (eglot-shutdown server)
    (when (process-live-p (jsonrpc--process server)) (te-fail "the server is still running after shutdown"))
    (message "eglot client: all checks passed")))

(condition-case err
    (te-main)
  (error (te-fail "%S" err)))
(kill-emacs 0)
