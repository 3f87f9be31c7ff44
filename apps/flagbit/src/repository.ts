import type { StudioDatabase } from '@studio/shared-db';
import type {
  ClientFeatures,
  Constraint,
  Dependency,
  FeatureDefinition,
  Segment,
  StrategyDefinition,
  VariantDefinition,
} from './evaluation/types';

/**
 * Every SQL statement of FlagBit, prepared once. Functions here never open transactions themselves: the store
 * (src/store.ts) wraps each admin operation — its writes, its audit record and its revision bump — in one
 * `database.transaction`, so a change and its audit entry commit together or not at all.
 */

export interface ProjectRow {
  id: string;
  name: string;
  description: string;
  createdAt: string;
}

export interface EnvironmentRow {
  name: string;
  revision: number;
  createdAt: string;
}

export interface FlagRow {
  name: string;
  project: string;
  type: string;
  description: string | null;
  impressionData: boolean;
  stale: boolean;
  dependencies: Dependency[] | null;
  createdAt: string;
  updatedAt: string;
}

export interface FlagEnvironmentRow {
  environment: string;
  enabled: boolean;
  variants: VariantDefinition[];
}

export interface StrategyRow {
  id: string;
  flagName: string;
  environment: string;
  sortOrder: number;
  definition: StrategyDefinition;
}

export interface SegmentRow {
  id: number;
  name: string;
  description: string;
  constraints: Constraint[];
}

export interface TokenRow {
  id: string;
  accountId: string;
  type: 'backend' | 'frontend';
  environment: string;
  displayPrefix: string;
  createdAt: string;
  revokedAt: string | null;
}

export interface AuditRow {
  id: number;
  actor: string;
  action: string;
  resource: string;
  environment: string | null;
  before: unknown;
  after: unknown;
  createdAt: string;
}

const parse = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

export function createFlagRepository(database: StudioDatabase) {
  const { sqlite } = database;

  const insertProject = sqlite.prepare(
    'INSERT OR IGNORE INTO projects (account_id, id, name, description, created_at) VALUES (?, ?, ?, ?, ?)',
  );
  const selectProjects = sqlite.prepare(
    'SELECT id, name, description, created_at FROM projects WHERE account_id = ? ORDER BY created_at, id',
  );
  const selectProject = sqlite.prepare(
    'SELECT id, name, description, created_at FROM projects WHERE account_id = ? AND id = ?',
  );
  const updateProjectStatement = sqlite.prepare(
    'UPDATE projects SET name = ?, description = ? WHERE account_id = ? AND id = ?',
  );
  const deleteProjectStatement = sqlite.prepare('DELETE FROM projects WHERE account_id = ? AND id = ?');
  const countProjectFlags = sqlite.prepare(
    'SELECT COUNT(*) AS n FROM flags WHERE account_id = ? AND project_id = ?',
  );

  const insertEnvironment = sqlite.prepare(
    'INSERT OR IGNORE INTO environments (account_id, name, revision, created_at) VALUES (?, ?, 0, ?)',
  );
  const selectEnvironments = sqlite.prepare(
    'SELECT name, revision, created_at FROM environments WHERE account_id = ? ORDER BY created_at, name',
  );
  const selectEnvironment = sqlite.prepare(
    'SELECT name, revision, created_at FROM environments WHERE account_id = ? AND name = ?',
  );
  const deleteEnvironmentStatement = sqlite.prepare(
    'DELETE FROM environments WHERE account_id = ? AND name = ?',
  );
  const bumpRevisionStatement = sqlite.prepare(
    'UPDATE environments SET revision = revision + 1 WHERE account_id = ? AND name = ? RETURNING revision',
  );
  const addEnvironmentToAllFlags = sqlite.prepare(
    `INSERT OR IGNORE INTO flag_environments (account_id, flag_name, environment, enabled, variants)
     SELECT account_id, name, ?, 0, '[]' FROM flags WHERE account_id = ?`,
  );

  const flagColumns =
    'name, project_id, type, description, impression_data, stale, dependencies, created_at, updated_at';
  const selectFlags = sqlite.prepare(`SELECT ${flagColumns} FROM flags WHERE account_id = ? ORDER BY name`);
  const selectProjectFlags = sqlite.prepare(
    `SELECT ${flagColumns} FROM flags WHERE account_id = ? AND project_id = ? ORDER BY name`,
  );
  const selectFlag = sqlite.prepare(`SELECT ${flagColumns} FROM flags WHERE account_id = ? AND name = ?`);
  const countFlagsStatement = sqlite.prepare('SELECT COUNT(*) AS n FROM flags WHERE account_id = ?');
  const insertFlagStatement = sqlite.prepare(
    `INSERT INTO flags (account_id, name, project_id, type, description, impression_data, stale, dependencies,
       created_at, updated_at)
     VALUES (@accountId, @name, @project, @type, @description, @impressionData, @stale, @dependencies, @now, @now)`,
  );
  const updateFlagStatement = sqlite.prepare(
    `UPDATE flags SET type = @type, description = @description, impression_data = @impressionData,
       stale = @stale, dependencies = @dependencies, updated_at = @now
     WHERE account_id = @accountId AND name = @name`,
  );
  const deleteFlagStatement = sqlite.prepare('DELETE FROM flags WHERE account_id = ? AND name = ?');
  const addFlagToAllEnvironments = sqlite.prepare(
    `INSERT OR IGNORE INTO flag_environments (account_id, flag_name, environment, enabled, variants)
     SELECT account_id, ?, name, 0, '[]' FROM environments WHERE account_id = ?`,
  );
  const selectChildren = sqlite.prepare(
    `SELECT f.name FROM flags f, json_each(f.dependencies) d
     WHERE f.account_id = ? AND f.dependencies IS NOT NULL AND json_extract(d.value, '$.feature') = ?`,
  );

  const selectFlagEnvironments = sqlite.prepare(
    `SELECT environment, enabled, variants FROM flag_environments WHERE account_id = ? AND flag_name = ?
     ORDER BY environment`,
  );
  const selectFlagEnvironment = sqlite.prepare(
    'SELECT environment, enabled, variants FROM flag_environments WHERE account_id = ? AND flag_name = ? AND environment = ?',
  );
  const upsertFlagEnvironment = sqlite.prepare(
    `INSERT INTO flag_environments (account_id, flag_name, environment, enabled, variants) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (account_id, flag_name, environment) DO UPDATE SET enabled = excluded.enabled,
       variants = excluded.variants`,
  );
  const deleteFlagEnvironmentsOfProject = sqlite.prepare(
    `DELETE FROM flag_environments WHERE account_id = ? AND environment = ?
       AND flag_name IN (SELECT name FROM flags WHERE account_id = ? AND project_id = ?)`,
  );

  const selectStrategies = sqlite.prepare(
    `SELECT id, flag_name, environment, sort_order, definition FROM strategies
     WHERE account_id = ? AND environment = ? AND flag_name = ? ORDER BY sort_order, id`,
  );
  const selectStrategy = sqlite.prepare(
    `SELECT id, flag_name, environment, sort_order, definition FROM strategies
     WHERE account_id = ? AND environment = ? AND flag_name = ? AND id = ?`,
  );
  const insertStrategyStatement = sqlite.prepare(
    `INSERT INTO strategies (id, account_id, flag_name, environment, sort_order, definition)
     VALUES (?, ?, ?, ?, ?, ?)`,
  );
  const updateStrategyStatement = sqlite.prepare(
    'UPDATE strategies SET definition = ?, sort_order = ? WHERE account_id = ? AND id = ?',
  );
  const deleteStrategyStatement = sqlite.prepare('DELETE FROM strategies WHERE account_id = ? AND id = ?');
  const maxSortOrder = sqlite.prepare(
    `SELECT COALESCE(MAX(sort_order), -1) AS n FROM strategies
     WHERE account_id = ? AND environment = ? AND flag_name = ?`,
  );
  const deleteStrategiesOfFlagEnvironment = sqlite.prepare(
    'DELETE FROM strategies WHERE account_id = ? AND environment = ? AND flag_name = ?',
  );
  const strategiesUsingSegment = sqlite.prepare(
    `SELECT s.flag_name FROM strategies s, json_each(s.definition, '$.segments') seg
     WHERE s.account_id = ? AND s.environment = ? AND seg.value = ?`,
  );

  const selectEnvironmentFlags = sqlite.prepare(
    `SELECT f.name, f.project_id, f.type, f.description, f.impression_data, f.stale, f.dependencies, f.created_at,
       f.updated_at, fe.enabled, fe.variants
     FROM flag_environments fe JOIN flags f ON f.account_id = fe.account_id AND f.name = fe.flag_name
     WHERE fe.account_id = ? AND fe.environment = ? ORDER BY f.name`,
  );
  const selectEnvironmentStrategies = sqlite.prepare(
    `SELECT id, flag_name, environment, sort_order, definition FROM strategies
     WHERE account_id = ? AND environment = ? ORDER BY flag_name, sort_order, id`,
  );

  const selectSegments = sqlite.prepare(
    'SELECT id, name, description, constraints FROM segments WHERE account_id = ? AND environment = ? ORDER BY id',
  );
  const selectSegment = sqlite.prepare(
    'SELECT id, name, description, constraints FROM segments WHERE account_id = ? AND environment = ? AND id = ?',
  );
  const nextSegmentId = sqlite.prepare(
    'SELECT COALESCE(MAX(id), 0) + 1 AS n FROM segments WHERE account_id = ? AND environment = ?',
  );
  const upsertSegmentStatement = sqlite.prepare(
    `INSERT INTO segments (account_id, environment, id, name, description, constraints) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (account_id, environment, id) DO UPDATE SET name = excluded.name,
       description = excluded.description, constraints = excluded.constraints`,
  );
  const deleteSegmentStatement = sqlite.prepare(
    'DELETE FROM segments WHERE account_id = ? AND environment = ? AND id = ?',
  );
  const deleteSegmentsOfEnvironment = sqlite.prepare(
    'DELETE FROM segments WHERE account_id = ? AND environment = ?',
  );

  const insertTokenStatement = sqlite.prepare(
    `INSERT INTO sdk_tokens (id, account_id, type, environment, hash, display_prefix, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const selectTokens = sqlite.prepare(
    `SELECT id, account_id, type, environment, display_prefix, created_at, revoked_at FROM sdk_tokens
     WHERE account_id = ? ORDER BY created_at, id`,
  );
  const selectTokenByHash = sqlite.prepare(
    `SELECT id, account_id, type, environment, display_prefix, created_at, revoked_at FROM sdk_tokens
     WHERE hash = ? AND revoked_at IS NULL`,
  );
  const revokeTokenStatement = sqlite.prepare(
    'UPDATE sdk_tokens SET revoked_at = ? WHERE account_id = ? AND id = ? AND revoked_at IS NULL',
  );

  const insertAudit = sqlite.prepare(
    `INSERT INTO audit_events (account_id, actor, action, resource, environment, before, after, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const selectAudit = sqlite.prepare(
    `SELECT id, actor, action, resource, environment, before, after, created_at FROM audit_events
     WHERE account_id = ? AND id < ? ORDER BY id DESC LIMIT ?`,
  );

  const upsertInstance = sqlite.prepare(
    `INSERT INTO client_instances (account_id, environment, app_name, instance_id, sdk_version, strategies, started,
       interval_ms, last_seen)
     VALUES (@accountId, @environment, @appName, @instanceId, @sdkVersion, @strategies, @started, @interval, @now)
     ON CONFLICT (account_id, environment, app_name, instance_id) DO UPDATE SET sdk_version = excluded.sdk_version,
       strategies = excluded.strategies, started = excluded.started, interval_ms = excluded.interval_ms,
       last_seen = excluded.last_seen`,
  );
  const selectInstances = sqlite.prepare(
    `SELECT environment, app_name, instance_id, sdk_version, last_seen FROM client_instances
     WHERE account_id = ? ORDER BY environment, app_name, instance_id`,
  );
  const addFlagMetric = sqlite.prepare(
    `INSERT INTO flag_metrics (account_id, environment, flag_name, app_name, yes, no, last_seen)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (account_id, environment, flag_name, app_name) DO UPDATE SET yes = yes + excluded.yes,
       no = no + excluded.no, last_seen = excluded.last_seen`,
  );
  const addVariantMetric = sqlite.prepare(
    `INSERT INTO variant_metrics (account_id, environment, flag_name, app_name, variant, count) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (account_id, environment, flag_name, app_name, variant) DO UPDATE SET count = count + excluded.count`,
  );
  const selectFlagMetrics = sqlite.prepare(
    `SELECT environment, flag_name, app_name, yes, no, last_seen FROM flag_metrics WHERE account_id = ?
     ORDER BY flag_name, environment, app_name`,
  );
  const selectVariantMetrics = sqlite.prepare(
    `SELECT environment, flag_name, app_name, variant, count FROM variant_metrics WHERE account_id = ?
     ORDER BY flag_name, environment, app_name, variant`,
  );

  const toFlag = (row: Record<string, unknown>): FlagRow => ({
    name: row.name as string,
    project: row.project_id as string,
    type: row.type as string,
    description: (row.description as string | null) ?? null,
    impressionData: row.impression_data === 1,
    stale: row.stale === 1,
    dependencies: parse<Dependency[]>(row.dependencies as string | null),
    createdAt: row.created_at as string,
    updatedAt: row.updated_at as string,
  });
  const toFlagEnvironment = (row: Record<string, unknown>): FlagEnvironmentRow => ({
    environment: row.environment as string,
    enabled: row.enabled === 1,
    variants: JSON.parse(row.variants as string) as VariantDefinition[],
  });
  const toStrategy = (row: Record<string, unknown>): StrategyRow => ({
    id: row.id as string,
    flagName: row.flag_name as string,
    environment: row.environment as string,
    sortOrder: row.sort_order as number,
    definition: JSON.parse(row.definition as string) as StrategyDefinition,
  });
  const toSegment = (row: Record<string, unknown>): SegmentRow => ({
    id: row.id as number,
    name: row.name as string,
    description: row.description as string,
    constraints: JSON.parse(row.constraints as string) as Constraint[],
  });
  const toToken = (row: Record<string, unknown>): TokenRow => ({
    id: row.id as string,
    accountId: row.account_id as string,
    type: row.type as TokenRow['type'],
    environment: row.environment as string,
    displayPrefix: row.display_prefix as string,
    createdAt: row.created_at as string,
    revokedAt: (row.revoked_at as string | null) ?? null,
  });
  const toProject = (row: Record<string, unknown>): ProjectRow => ({
    id: row.id as string,
    name: row.name as string,
    description: row.description as string,
    createdAt: row.created_at as string,
  });
  const toEnvironment = (row: Record<string, unknown>): EnvironmentRow => ({
    name: row.name as string,
    revision: row.revision as number,
    createdAt: row.created_at as string,
  });

  const flagInput = (accountId: string, flag: Omit<FlagRow, 'createdAt' | 'updatedAt'>, now: string) => ({
    accountId,
    name: flag.name,
    project: flag.project,
    type: flag.type,
    description: flag.description,
    impressionData: flag.impressionData ? 1 : 0,
    stale: flag.stale ? 1 : 0,
    dependencies: flag.dependencies?.length ? JSON.stringify(flag.dependencies) : null,
    now,
  });

  const repository = {
    transaction: <Args extends unknown[], Result>(fn: (...args: Args) => Result) => database.transaction(fn),

    /** Every account starts with project `default` and environments `development` and `production`. */
    ensureDefaults(accountId: string, now: string) {
      insertProject.run(accountId, 'default', 'Default', 'The default project', now);
      insertEnvironment.run(accountId, 'development', now);
      insertEnvironment.run(accountId, 'production', now);
    },

    listProjects: (accountId: string) =>
      (selectProjects.all(accountId) as Record<string, unknown>[]).map(toProject),
    findProject(accountId: string, id: string) {
      const row = selectProject.get(accountId, id) as Record<string, unknown> | undefined;
      return row ? toProject(row) : null;
    },
    insertProject: (accountId: string, project: Omit<ProjectRow, 'createdAt'>, now: string) =>
      insertProject.run(accountId, project.id, project.name, project.description, now).changes > 0,
    updateProject: (accountId: string, id: string, name: string, description: string) =>
      updateProjectStatement.run(name, description, accountId, id).changes > 0,
    deleteProject: (accountId: string, id: string) => deleteProjectStatement.run(accountId, id).changes > 0,
    countProjectFlags: (accountId: string, id: string) =>
      (countProjectFlags.get(accountId, id) as { n: number }).n,

    listEnvironments: (accountId: string) =>
      (selectEnvironments.all(accountId) as Record<string, unknown>[]).map(toEnvironment),
    findEnvironment(accountId: string, name: string) {
      const row = selectEnvironment.get(accountId, name) as Record<string, unknown> | undefined;
      return row ? toEnvironment(row) : null;
    },
    insertEnvironment(accountId: string, name: string, now: string) {
      const created = insertEnvironment.run(accountId, name, now).changes > 0;
      if (created) addEnvironmentToAllFlags.run(name, accountId);
      return created;
    },
    deleteEnvironment: (accountId: string, name: string) =>
      deleteEnvironmentStatement.run(accountId, name).changes > 0,
    bumpRevision: (accountId: string, environment: string) =>
      (bumpRevisionStatement.get(accountId, environment) as { revision: number } | undefined)?.revision ?? 0,

    listFlags: (accountId: string, project?: string) =>
      (
        (project ? selectProjectFlags.all(accountId, project) : selectFlags.all(accountId)) as Record<
          string,
          unknown
        >[]
      ).map(toFlag),
    findFlag(accountId: string, name: string) {
      const row = selectFlag.get(accountId, name) as Record<string, unknown> | undefined;
      return row ? toFlag(row) : null;
    },
    countFlags: (accountId: string) => (countFlagsStatement.get(accountId) as { n: number }).n,
    insertFlag(accountId: string, flag: Omit<FlagRow, 'createdAt' | 'updatedAt'>, now: string) {
      insertFlagStatement.run(flagInput(accountId, flag, now));
      addFlagToAllEnvironments.run(flag.name, accountId);
    },
    updateFlag: (accountId: string, flag: Omit<FlagRow, 'createdAt' | 'updatedAt'>, now: string) =>
      updateFlagStatement.run(flagInput(accountId, flag, now)).changes > 0,
    deleteFlag: (accountId: string, name: string) => deleteFlagStatement.run(accountId, name).changes > 0,
    childrenOf: (accountId: string, name: string) =>
      (selectChildren.all(accountId, name) as { name: string }[]).map((row) => row.name),

    flagEnvironments: (accountId: string, flagName: string) =>
      (selectFlagEnvironments.all(accountId, flagName) as Record<string, unknown>[]).map(toFlagEnvironment),
    findFlagEnvironment(accountId: string, flagName: string, environment: string) {
      const row = selectFlagEnvironment.get(accountId, flagName, environment) as
        | Record<string, unknown>
        | undefined;
      return row ? toFlagEnvironment(row) : null;
    },
    saveFlagEnvironment: (
      accountId: string,
      flagName: string,
      environment: string,
      enabled: boolean,
      variants: VariantDefinition[],
    ) =>
      upsertFlagEnvironment.run(accountId, flagName, environment, enabled ? 1 : 0, JSON.stringify(variants)),

    listStrategies: (accountId: string, environment: string, flagName: string) =>
      (selectStrategies.all(accountId, environment, flagName) as Record<string, unknown>[]).map(toStrategy),
    findStrategy(accountId: string, environment: string, flagName: string, id: string) {
      const row = selectStrategy.get(accountId, environment, flagName, id) as
        | Record<string, unknown>
        | undefined;
      return row ? toStrategy(row) : null;
    },
    insertStrategy(
      accountId: string,
      id: string,
      flagName: string,
      environment: string,
      definition: StrategyDefinition,
      sortOrder?: number,
    ) {
      const order = sortOrder ?? (maxSortOrder.get(accountId, environment, flagName) as { n: number }).n + 1;
      insertStrategyStatement.run(id, accountId, flagName, environment, order, JSON.stringify(definition));
      return order;
    },
    updateStrategy: (accountId: string, id: string, definition: StrategyDefinition, sortOrder: number) =>
      updateStrategyStatement.run(JSON.stringify(definition), sortOrder, accountId, id).changes > 0,
    deleteStrategy: (accountId: string, id: string) => deleteStrategyStatement.run(accountId, id).changes > 0,
    flagsUsingSegment: (accountId: string, environment: string, segmentId: number) => [
      ...new Set(
        (strategiesUsingSegment.all(accountId, environment, segmentId) as { flag_name: string }[]).map(
          (row) => row.flag_name,
        ),
      ),
    ],

    listSegments: (accountId: string, environment: string) =>
      (selectSegments.all(accountId, environment) as Record<string, unknown>[]).map(toSegment),
    findSegment(accountId: string, environment: string, id: number) {
      const row = selectSegment.get(accountId, environment, id) as Record<string, unknown> | undefined;
      return row ? toSegment(row) : null;
    },
    nextSegmentId: (accountId: string, environment: string) =>
      (nextSegmentId.get(accountId, environment) as { n: number }).n,
    saveSegment: (accountId: string, environment: string, segment: SegmentRow) =>
      upsertSegmentStatement.run(
        accountId,
        environment,
        segment.id,
        segment.name,
        segment.description,
        JSON.stringify(segment.constraints),
      ),
    deleteSegment: (accountId: string, environment: string, id: number) =>
      deleteSegmentStatement.run(accountId, environment, id).changes > 0,

    /**
     * The environment's flags of `project` and all its segments replaced by `document`: flags the document
     * lacks leave the environment (they stay defined, and in other environments), flags it names are created
     * or updated. Runs inside the caller's transaction.
     */
    replaceEnvironment(
      accountId: string,
      environment: string,
      project: string,
      document: ClientFeatures,
      now: string,
    ) {
      deleteFlagEnvironmentsOfProject.run(accountId, environment, accountId, project);
      deleteSegmentsOfEnvironment.run(accountId, environment);
      for (const segment of document.segments ?? []) {
        upsertSegmentStatement.run(
          accountId,
          environment,
          segment.id,
          segment.name ?? `segment-${segment.id}`,
          '',
          JSON.stringify(segment.constraints),
        );
      }
      for (const feature of document.features) {
        const existing = selectFlag.get(accountId, feature.name) as Record<string, unknown> | undefined;
        const flag = {
          name: feature.name,
          project: existing ? (existing.project_id as string) : project,
          type: feature.type ?? 'release',
          description: feature.description ?? null,
          impressionData: Boolean(feature.impressionData),
          stale: Boolean(feature.stale),
          dependencies: feature.dependencies ?? null,
        };
        if (existing) updateFlagStatement.run(flagInput(accountId, flag, now));
        else insertFlagStatement.run(flagInput(accountId, flag, now));
        // A new flag exists (disabled) in every other environment too, as one created through the API does.
        if (!existing) addFlagToAllEnvironments.run(feature.name, accountId);
        deleteStrategiesOfFlagEnvironment.run(accountId, environment, feature.name);
        upsertFlagEnvironment.run(
          accountId,
          feature.name,
          environment,
          feature.enabled ? 1 : 0,
          JSON.stringify(feature.variants ?? []),
        );
        feature.strategies.forEach((strategy, index) => {
          insertStrategyStatement.run(
            `str_${crypto.randomUUID()}`,
            accountId,
            feature.name,
            environment,
            index,
            JSON.stringify(strategy),
          );
        });
      }
    },

    /** What the environment serves, in the client-features format, built from the tables. */
    environmentDocument(accountId: string, environment: string): ClientFeatures {
      const features: FeatureDefinition[] = [];
      const strategiesByFlag = new Map<string, StrategyDefinition[]>();
      for (const row of selectEnvironmentStrategies.all(accountId, environment) as Record<
        string,
        unknown
      >[]) {
        const strategy = toStrategy(row);
        const list = strategiesByFlag.get(strategy.flagName) ?? [];
        list.push(strategy.definition);
        strategiesByFlag.set(strategy.flagName, list);
      }
      for (const row of selectEnvironmentFlags.all(accountId, environment) as Record<string, unknown>[]) {
        const flag = toFlag(row);
        const strategies = strategiesByFlag.get(flag.name) ?? [];
        const feature: FeatureDefinition = {
          name: flag.name,
          type: flag.type,
          description: flag.description,
          project: flag.project,
          enabled: row.enabled === 1,
          stale: flag.stale,
          impressionData: flag.impressionData,
          strategies,
          variants: JSON.parse(row.variants as string) as VariantDefinition[],
        };
        if (flag.dependencies?.length) feature.dependencies = flag.dependencies;
        features.push(feature);
      }
      const segments: Segment[] = (
        selectSegments.all(accountId, environment) as Record<string, unknown>[]
      ).map((row) => {
        const segment = toSegment(row);
        return { id: segment.id, name: segment.name, constraints: segment.constraints };
      });
      return { version: 2, features, segments };
    },

    insertToken(token: Omit<TokenRow, 'revokedAt'>, hash: Buffer) {
      insertTokenStatement.run(
        token.id,
        token.accountId,
        token.type,
        token.environment,
        hash,
        token.displayPrefix,
        token.createdAt,
      );
    },
    listTokens: (accountId: string) =>
      (selectTokens.all(accountId) as Record<string, unknown>[]).map(toToken),
    findTokenByHash(hash: Buffer) {
      const row = selectTokenByHash.get(hash) as Record<string, unknown> | undefined;
      return row ? toToken(row) : null;
    },
    revokeToken: (accountId: string, id: string, now: string) =>
      revokeTokenStatement.run(now, accountId, id).changes > 0,

    audit(
      accountId: string,
      entry: {
        actor: string;
        action: string;
        resource: string;
        environment?: string | null;
        before?: unknown;
        after?: unknown;
      },
      now: string,
    ) {
      insertAudit.run(
        accountId,
        entry.actor,
        entry.action,
        entry.resource,
        entry.environment ?? null,
        entry.before === undefined || entry.before === null ? null : JSON.stringify(entry.before),
        entry.after === undefined || entry.after === null ? null : JSON.stringify(entry.after),
        now,
      );
    },
    listAudit: (accountId: string, limit: number, beforeId = Number.MAX_SAFE_INTEGER): AuditRow[] =>
      (selectAudit.all(accountId, beforeId, limit) as Record<string, unknown>[]).map((row) => ({
        id: row.id as number,
        actor: row.actor as string,
        action: row.action as string,
        resource: row.resource as string,
        environment: (row.environment as string | null) ?? null,
        before: parse(row.before as string | null),
        after: parse(row.after as string | null),
        createdAt: row.created_at as string,
      })),

    registerInstance: (entry: {
      accountId: string;
      environment: string;
      appName: string;
      instanceId: string;
      sdkVersion: string | null;
      strategies: string;
      started: string | null;
      interval: number | null;
      now: string;
    }) => upsertInstance.run(entry),
    listInstances: (accountId: string) =>
      (selectInstances.all(accountId) as Record<string, unknown>[]).map((row) => ({
        environment: row.environment as string,
        appName: row.app_name as string,
        instanceId: row.instance_id as string,
        sdkVersion: (row.sdk_version as string | null) ?? null,
        lastSeen: row.last_seen as string,
      })),
    addFlagMetric: (
      accountId: string,
      environment: string,
      flagName: string,
      appName: string,
      yes: number,
      no: number,
      now: string,
    ) => addFlagMetric.run(accountId, environment, flagName, appName, yes, no, now),
    addVariantMetric: (
      accountId: string,
      environment: string,
      flagName: string,
      appName: string,
      variant: string,
      count: number,
    ) => addVariantMetric.run(accountId, environment, flagName, appName, variant, count),
    listMetrics: (accountId: string) => ({
      flags: (selectFlagMetrics.all(accountId) as Record<string, unknown>[]).map((row) => ({
        environment: row.environment as string,
        flagName: row.flag_name as string,
        appName: row.app_name as string,
        yes: row.yes as number,
        no: row.no as number,
        lastSeen: row.last_seen as string,
      })),
      variants: (selectVariantMetrics.all(accountId) as Record<string, unknown>[]).map((row) => ({
        environment: row.environment as string,
        flagName: row.flag_name as string,
        appName: row.app_name as string,
        variant: row.variant as string,
        count: row.count as number,
      })),
    }),
  };

  return repository;
}

export type FlagRepository = ReturnType<typeof createFlagRepository>;
