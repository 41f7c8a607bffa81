SET LOCAL transaction_read_only = on; SET LOCAL statement_timeout = {timeout}
