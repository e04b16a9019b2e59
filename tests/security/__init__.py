"""The security review's probes as tests, and where each finding of the week-one review (issue 11) is tested.

Here: the 40 probes that held (test_access_control: every route for every role; test_html_escaping), the
Content-Security-Policy in Chromium (test_browser_policy) and the hardening findings 14-18: the open redirect
(test_login_redirect), server-side sessions (test_sessions), the login throttle and equal-cost logins
(test_login_throttle), headers and private files (test_headers_and_files), hostile uploads (test_upload_checks).

Findings about grading integrity and what users see are tested next to the code they concern:

1. points on reported facts: tests/core/test_rubric_spec.py and test_rubric_scoring.py (reported metrics),
   tests/integration/test_submissions.py (a real run that forges its parameter count), tests/web/test_reported_checks.py
2. one student holding the queue: tests/services/test_dispatch.py, tests/workers/test_fair_queue.py (a real worker),
   tests/web/test_api.py (429 with the count), tests/services/test_broker.py (re-runs after first runs)
3. the daily feedback limit: tests/web/test_daily_feedback.py, tests/core/test_daily.py, tests/e2e/test_feedback_pages.py
4. overrides across re-runs: tests/services/test_reruns.py, tests/web/test_review.py, tests/e2e/test_override_browser.py
5. references built ahead: tests/services/test_reference_builds.py, test_reference_waits.py,
   tests/web/test_instructor_references.py, tests/workers/test_reference_build_worker.py, tests/e2e/test_references_browser.py
6. the assignment page: tests/web/test_assignment_page.py, tests/e2e/test_assignment_page.py
7. dates: tests/services/test_assignment_dates.py, tests/core/test_policy_form.py, tests/web/test_assignment_page.py
8. live status and message colours: tests/e2e/test_status_pages.py, tests/web/test_api.py, tests/web/test_flash.py,
   tests/e2e/test_flash_messages.py
9. API tokens: tests/services/test_api_tokens.py, tests/web/test_account.py, tests/e2e/test_account_page.py, tests/test_client.py
10. submitted code on the grading log: tests/services/test_submitted_code.py, tests/web/test_code_view.py
11. the harness's own warnings: tests/harness/test_frameworks.py
12. the gradebook: tests/web/test_gradebook.py, tests/e2e/test_gradebook_page.py
"""
