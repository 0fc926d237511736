# dealmail.sieve — hand mail for the sales assistant to dealmail, keep a copy.
require ["vnd.dovecot.pipe", "envelope", "fileinto", "mailbox"];

if envelope :is "to" "ventas@example.com" {
  # :try — if dealmail fails, go on (the copy below is kept, nothing is lost)
  pipe :try "dealmail-ingest";
  fileinto :create "Dealmail";
  stop;
}
