"""The signal tester: read a message as the parser does, over the API (``api``) and on a page
(``pages``). Nothing is stored and no trade is placed: it shows what a message would be read as."""

MAX_MESSAGE_LENGTH = 4096  # characters of a message (and of the one it replies to)
