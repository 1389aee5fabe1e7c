"""The default chart of accounts for a municipal electric utility's customer receivables.

Codes follow a common municipal layout (1xxx assets, 2xxx liabilities, 4xxx revenue,
5xxx expense); a utility renumbers them in the admin to match its city GL. Ohm posts by
``role``, never by code, so renumbering changes nothing in the code.
"""

# (code, name, kind, role)
DEFAULT_CHART = [
    ("1100", "Customer accounts receivable (control)", "asset", "receivables"),
    ("1010", "Cash clearing — cashier drawers", "asset", "cash_cashier"),
    ("1011", "Cash clearing — card processor", "asset", "cash_card"),
    ("1012", "Cash clearing — ACH", "asset", "cash_ach"),
    ("1013", "Cash clearing — lockbox", "asset", "cash_lockbox"),
    ("1014", "Cash clearing — pay agents", "asset", "cash_pay_agent"),
    ("1015", "Cash clearing — collection agency", "asset", "cash_agency"),
    ("1190", "Allowance for doubtful accounts", "asset", "bad_debt_allowance"),
    ("2100", "Unapplied cash (suspense)", "liability", "unapplied_cash"),
    ("2200", "Customer deposits held", "liability", "deposits_held"),
    ("2210", "Deposit interest payable", "liability", "deposit_interest_payable"),
    ("2300", "Utility users tax payable", "liability", "tax_uut"),
    ("2310", "State energy surcharge payable", "liability", "tax_state_surcharge"),
    ("2400", "Customer refunds payable", "liability", "refunds_payable"),
    ("4100", "Electric revenue — energy", "revenue", "revenue_energy"),
    ("4110", "Electric revenue — customer charge", "revenue", "revenue_customer_charge"),
    ("4120", "Electric revenue — demand", "revenue", "revenue_demand"),
    ("4130", "Electric revenue — minimum charge", "revenue", "revenue_minimum"),
    ("4140", "Electric revenue — other", "revenue", "revenue_other"),
    ("4190", "Billing adjustments", "revenue", "billing_adjustments"),
    ("4200", "Late payment fees", "revenue", "fee_late"),
    ("4210", "Returned payment fees", "revenue", "fee_returned_payment"),
    ("4220", "Reconnection fees", "revenue", "fee_reconnect"),
    ("4230", "Field trip fees", "revenue", "fee_field_trip"),
    ("4900", "Recoveries of accounts written off", "revenue", "write_off_recoveries"),
    ("5100", "Deposit interest expense", "expense", "deposit_interest_expense"),
    ("5200", "Bad debt expense", "expense", "bad_debt_expense"),
    ("3900", "Opening balances (conversion)", "equity", "opening_balances"),
]
