"""Observability: whether the deployment is alive and ready (``/health/live``, ``/health/ready``), and
its Prometheus metrics (``/metrics``), each the whole deployment's, whichever process answers.

``readiness`` the checks; ``selectors`` the reads of shared state; ``recording`` what processes
count as it happens, kept by ``store`` (Redis, or this process's memory in the embedded default);
``metrics`` the series; ``views``/``urls`` the edges; ``checks`` the deploy check of the token.
"""
