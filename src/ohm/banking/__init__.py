"""Banking: ACH autopay enrolment, NACHA files and returns, refunds and disbursements (check register, positive pay, ACH credits)."""
