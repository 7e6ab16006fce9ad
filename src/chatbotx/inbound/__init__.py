"""Inbound pipeline: verified webhook events stored once, then handled by a job."""
