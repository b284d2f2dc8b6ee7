"""Database access: engine and session factory, the declarative base, migrations."""

from hostplane.db.base import Base, TenantOwned
from hostplane.db.engine import Database

__all__ = ["Base", "Database", "TenantOwned"]
