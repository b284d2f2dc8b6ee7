"""Tenant branding: names, links, colours, CSS and the wallpaper and logo images.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28 08:34:43.348672
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import hostplane.db.base

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tenant_branding',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('product_name', sa.String(length=100), nullable=True),
    sa.Column('logo_url', sa.String(length=2048), nullable=True),
    sa.Column('favicon_url', sa.String(length=2048), nullable=True),
    sa.Column('support_url', sa.String(length=2048), nullable=True),
    sa.Column('support_email', sa.String(length=254), nullable=True),
    sa.Column('primary_color', sa.String(length=9), nullable=True),
    sa.Column('background_color', sa.String(length=9), nullable=True),
    sa.Column('custom_css', sa.Text(), nullable=True),
    sa.Column('desktop_wallpaper_url', sa.String(length=2048), nullable=True),
    sa.Column('powered_by_visible', sa.Boolean(), nullable=False),
    sa.Column('assets', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', hostplane.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_tenant_branding_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenant_branding')),
    sa.UniqueConstraint('tenant_id', name=op.f('uq_tenant_branding_tenant_id'))
    )
    with op.batch_alter_table('tenant_branding', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tenant_branding_tenant_id'), ['tenant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('tenant_branding', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tenant_branding_tenant_id'))

    op.drop_table('tenant_branding')
