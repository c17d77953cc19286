"""OpenLineage datasets of our operators' runs, named as the Amazon provider's SageMaker operators name theirs."""
