"""Module builds: one row per build of a module stream, one per component.

``module_builds``: name, stream, version (decimal text: an unsigned 64-bit
number) and context; ``nsvc_key`` (unique, set unless scratch: a resubmission
finds the build it repeats); the state (init, wait, build, done, ready, failed,
canceled) with its reason and failure class; the modulemd as submitted for this
context and as built (``modulemd_final``: artifacts and NVRs); the koji tags and
target, the dist, the campaign that builds the components, the module repo, and
the state last announced on the message bus.
``module_components``: per component what the modulemd says (repository, ref
and the commit it resolved to, batch, buildafter, arches, buildonly, rationale),
what it was reused from, and the rpms it shipped.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('module_builds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('stream', sa.String(length=255), nullable=False),
    sa.Column('version', sa.String(length=20), nullable=False),
    sa.Column('context', sa.String(length=64), nullable=False),
    sa.Column('nsvc_key', sa.String(length=600), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('state_reason', sa.Text(), nullable=False),
    sa.Column('failure_class', sa.String(length=20), nullable=True),
    sa.Column('backend', sa.String(length=20), nullable=False),
    sa.Column('scratch', sa.Boolean(), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=False),
    sa.Column('scmurl', sa.Text(), nullable=True),
    sa.Column('branch', sa.String(length=255), nullable=True),
    sa.Column('commit', sa.String(length=64), nullable=True),
    sa.Column('modulemd', sa.Text(), nullable=False),
    sa.Column('modulemd_final', sa.Text(), nullable=True),
    sa.Column('buildrequires', sa.Text(), nullable=False),
    sa.Column('requires', sa.Text(), nullable=False),
    sa.Column('order_kind', sa.String(length=20), nullable=False),
    sa.Column('reuse', sa.String(length=30), nullable=False),
    sa.Column('reused_from', sa.Integer(), nullable=True),
    sa.Column('koji_tag', sa.String(length=255), nullable=True),
    sa.Column('build_tag', sa.String(length=255), nullable=True),
    sa.Column('target', sa.String(length=255), nullable=True),
    sa.Column('parents', sa.Text(), nullable=False),
    sa.Column('dist', sa.String(length=255), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('workdir', sa.Text(), nullable=True),
    sa.Column('repo', sa.Text(), nullable=True),
    sa.Column('repo_task', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('published_state', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('completed_at', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('nsvc_key')
    )
    op.create_index('ix_module_builds_campaign_id', 'module_builds', ['campaign_id'])
    op.create_index('ix_module_builds_name_stream_state', 'module_builds',
                    ['name', 'stream', 'state'])
    op.create_table('module_components',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('module_build_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('repository', sa.Text(), nullable=False),
    sa.Column('ref', sa.String(length=255), nullable=False),
    sa.Column('commit', sa.String(length=64), nullable=False),
    sa.Column('scmurl', sa.Text(), nullable=False),
    sa.Column('batch', sa.Integer(), nullable=False),
    sa.Column('buildorder', sa.Integer(), nullable=False),
    sa.Column('buildafter', sa.Text(), nullable=False),
    sa.Column('arches', sa.Text(), nullable=False),
    sa.Column('buildonly', sa.Boolean(), nullable=False),
    sa.Column('rationale', sa.Text(), nullable=False),
    sa.Column('reused_from', sa.Integer(), nullable=True),
    sa.Column('artifacts', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['module_build_id'], ['module_builds.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('module_build_id', 'name')
    )
    op.create_index('ix_module_components_module_build_id', 'module_components',
                    ['module_build_id'])


def downgrade() -> None:
    op.drop_index('ix_module_components_module_build_id', table_name='module_components')
    op.drop_table('module_components')
    op.drop_index('ix_module_builds_name_stream_state', table_name='module_builds')
    op.drop_index('ix_module_builds_campaign_id', table_name='module_builds')
    op.drop_table('module_builds')
