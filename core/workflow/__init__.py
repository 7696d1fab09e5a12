"""Processes as configuration (D6): workflows, approvals, automations, timers."""
