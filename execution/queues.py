"""The Dramatiq queues of execution, and who consumes them.

``account_setup``: account setup and MetaApi credential refresh. Only the workers consuming it get
the MetaApi master token (``TTMT_METAAPI_TOKEN``) in their environment.
``execution``: broker operations through the pipeline; its workers never see the master token.
"""

SETUP_QUEUE = "account_setup"
EXECUTION_QUEUE = "execution"
