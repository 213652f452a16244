"""Clients of the services outside the bot that the actions call, one module per service
(orders.py: the shop's order API). The actions hold the conversation logic only."""
