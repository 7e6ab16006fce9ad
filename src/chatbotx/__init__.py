"""ChatbotX: a self-hosted omnichannel chatbot and customer-conversation platform."""

__version__ = "0.1.0"
