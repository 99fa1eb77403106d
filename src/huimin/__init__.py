"""huimin (惠民): administering family-support cash benefits."""

__version__ = "0.1.0"
