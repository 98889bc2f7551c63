// Local Neo4j 5.26 Community dev server for MusicBud, run by scripts/neo4j/neo4j.sh.
//
// Neo4j does not publish its server tarball on Maven Central (and the Neo4j
// download site is not reachable from our dev/CI machines), but the embedded
// Community DBMS (org.neo4j:neo4j) is there. This launcher starts it with the
// Bolt connector switched on, so Python drivers can talk to it exactly as they
// would to a real `neo4j` server / the neo4j:5.26-community image.
//
// Usage:
//   java [jvm opts] -cp <classpath> Neo4jServer --data-dir DIR [--host 127.0.0.1]
//        [--port 7687] [--pagecache 1g] [--ready-file FILE]
// The password comes from the NEO4J_PASSWORD environment variable (kept out of
// argv so it does not show up in `ps`). Empty or unset -> auth disabled.
//
// Prints "NEO4J READY bolt://HOST:PORT" once Bolt accepts connections and,
// if --ready-file is given, writes the same line there (removed on shutdown).
// SIGTERM/SIGINT shut the DBMS down cleanly via a shutdown hook.

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.internal.kernel.api.connectioninfo.ClientConnectionInfo;
import org.neo4j.internal.kernel.api.security.AuthenticationResult;
import org.neo4j.io.ByteUnit;
import org.neo4j.kernel.api.security.AuthManager;
import org.neo4j.kernel.api.security.AuthToken;
import org.neo4j.kernel.internal.GraphDatabaseAPI;

public final class Neo4jServer {

    private Neo4jServer() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = parseArgs(args);
        Path dataDir = Path.of(require(opts, "data-dir")).toAbsolutePath().normalize();
        String host = opts.getOrDefault("host", "127.0.0.1");
        int port = Integer.parseInt(opts.getOrDefault("port", "7687"));
        long pageCache = parseBytes(opts.getOrDefault("pagecache", "1g"));
        Path readyFile = opts.containsKey("ready-file") ? Path.of(opts.get("ready-file")).toAbsolutePath() : null;
        String password = System.getenv().getOrDefault("NEO4J_PASSWORD", "");
        boolean authEnabled = !password.isEmpty();
        if (authEnabled && password.length() < 8) {
            // Neo4j 5 rejects shorter passwords (dbms.security.auth_minimum_password_length);
            // fail early with a clear message instead of a Cypher error after startup.
            die("NEO4J_PASSWORD must be at least 8 characters (or empty to disable auth)");
        }
        if (readyFile != null) {
            // A stale file from a crashed run must not make neo4j.sh think we are up.
            Files.deleteIfExists(readyFile);
        }
        Files.createDirectories(dataDir);

        long t0 = System.nanoTime();
        // The data dir doubles as NEO4J_HOME: databases/ and transactions/ live directly
        // in it, and Neo4j's own debug/security logs go to <data-dir>/logs/.
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(dataDir)
                .setConfig(GraphDatabaseSettings.data_directory, dataDir)
                .setConfig(GraphDatabaseSettings.logs_directory, dataDir.resolve("logs"))
                // Embedded mode starts with Bolt off; this is the whole point of the launcher.
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress(host, port))
                // Local dev only: plain-text Bolt, so drivers use bolt:// without certificates.
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                // We only need Bolt; make sure nothing else opens a port.
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, authEnabled)
                // The default page cache is ~half of RAM; keep the dev server small.
                .setConfig(GraphDatabaseSettings.pagecache_memory, pageCache)
                // Keep the transaction logs that recovery needs and little more: the default (2 days)
                // let the test suite and the benchmarks pile up gigabytes of logs on a dev machine.
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "256M size")
                // No internet here: never try to phone home with usage data.
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                // Shut down promptly on SIGTERM even if a client left a transaction open.
                .setConfig(GraphDatabaseSettings.shutdown_transaction_end_timeout, Duration.ofSeconds(5))
                // The Bolt server waits up to 5 s per connector (bolt + bolt-local) for
                // connections/worker threads on shutdown, even with none open; that made
                // every stop take ~12 s. A dev server does not need the grace period.
                .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofSeconds(1))
                .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(1))
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("NEO4J STOPPING");
            try {
                if (readyFile != null) {
                    Files.deleteIfExists(readyFile);
                }
            } catch (IOException ignored) {
                // best effort; neo4j.sh also checks the pid and the port
            }
            dbms.shutdown();
            System.out.println("NEO4J STOPPED");
            System.out.flush();
            stopped.countDown();
        }, "neo4j-shutdown"));

        long t1 = System.nanoTime();
        if (authEnabled) {
            setPassword(dbms, password);
        }
        long t2 = System.nanoTime();

        String uri = "bolt://" + host + ":" + port;
        String ready = "NEO4J READY " + uri;
        if (readyFile != null) {
            // Write-then-rename so a reader never sees a half-written file.
            Path tmp = readyFile.resolveSibling(readyFile.getFileName() + ".tmp");
            Files.writeString(tmp, ready + "\n" + ProcessHandle.current().pid() + "\n", StandardCharsets.UTF_8);
            Files.move(tmp, readyFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
        System.out.printf(Locale.ROOT, "%s (auth %s, pagecache %d MiB, data %s; dbms %.1f s, auth setup %.1f s)%n",
                ready, authEnabled ? "on" : "off", pageCache >> 20, dataDir, (t1 - t0) / 1e9, (t2 - t1) / 1e9);
        System.out.flush();

        stopped.await(); // park the main thread; the shutdown hook does the work
    }

    // A fresh 5.x DBMS has user neo4j/neo4j with "password change required", which makes
    // every query from a driver fail with CredentialsExpired. There is no embedded setting for
    // the initial password (neo4j-admin writes data/dbms/auth.ini, which we do not have), so set
    // it through the system database. Doing it on start also lets NEO4J_PASSWORD be changed for
    // an existing data dir.
    private static void setPassword(DatabaseManagementService dbms, String password) {
        if (passwordAlreadySet(dbms, password)) {
            return;
        }
        try {
            dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME).executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED", Map.of("pw", password));
        } catch (RuntimeException e) {
            // Neo4j refuses to "change" a password to its current value; that just means
            // the data dir already has this password, which is what we want.
            String msg = String.valueOf(e.getMessage()) + " " + (e.getCause() == null ? "" : e.getCause().getMessage());
            if (!msg.toLowerCase(Locale.ROOT).contains("old password and new password cannot be the same")) {
                throw e;
            }
        }
    }

    // The first Cypher statement warms up the query planner (~5 s on a 2-core box), so on a
    // restart with an unchanged password we check it with the server's own AuthManager (the
    // same check a Bolt login does) and skip the ALTER USER. This is internal API: if it ever
    // breaks, fall back to always running ALTER USER.
    private static boolean passwordAlreadySet(DatabaseManagementService dbms, String password) {
        try {
            GraphDatabaseAPI system = (GraphDatabaseAPI) dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
            AuthManager auth = system.getDependencyResolver().resolveDependency(AuthManager.class);
            return auth.login(AuthToken.newBasicAuthToken("neo4j", password), ClientConnectionInfo.EMBEDDED_CONNECTION)
                    .subject().getAuthenticationResult() == AuthenticationResult.SUCCESS;
        } catch (Exception | LinkageError e) {
            return false;
        }
    }

    private static Map<String, String> parseArgs(String[] args) {
        Map<String, String> opts = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) {
                die("unexpected argument: " + a);
            }
            String key = a.substring(2);
            String value;
            int eq = key.indexOf('=');
            if (eq >= 0) {
                value = key.substring(eq + 1);
                key = key.substring(0, eq);
            } else if (i + 1 < args.length) {
                value = args[++i];
            } else {
                die("missing value for " + a);
                return opts; // unreachable
            }
            opts.put(key, value);
        }
        return opts;
    }

    private static String require(Map<String, String> opts, String key) {
        String v = opts.get(key);
        if (v == null || v.isEmpty()) {
            die("--" + key + " is required");
        }
        return v;
    }

    // "256m", "1g", "512k", "1048576" -> bytes
    private static long parseBytes(String s) {
        String v = s.trim().toLowerCase(Locale.ROOT);
        if (v.endsWith("b")) {
            v = v.substring(0, v.length() - 1);
        }
        char unit = v.isEmpty() ? ' ' : v.charAt(v.length() - 1);
        long n;
        try {
            n = Long.parseLong(Character.isDigit(unit) ? v : v.substring(0, v.length() - 1));
        } catch (NumberFormatException e) {
            die("bad size: " + s);
            return 0; // unreachable
        }
        switch (unit) {
            case 'k': return ByteUnit.kibiBytes(n);
            case 'm': return ByteUnit.mebiBytes(n);
            case 'g': return ByteUnit.gibiBytes(n);
            default:
                if (Character.isDigit(unit)) {
                    return n;
                }
                die("bad size unit: " + s);
                return 0; // unreachable
        }
    }

    private static void die(String msg) {
        System.err.println("Neo4jServer: " + msg);
        System.exit(2);
    }
}
