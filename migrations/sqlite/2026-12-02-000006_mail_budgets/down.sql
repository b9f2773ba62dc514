DROP TABLE mail_budgets;
