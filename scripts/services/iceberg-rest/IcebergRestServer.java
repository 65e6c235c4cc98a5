package dev.tributary.services;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.iceberg.CatalogUtil;
import org.apache.iceberg.catalog.Catalog;
import org.apache.iceberg.rest.RESTCatalogAdapter;
import org.apache.iceberg.rest.RESTCatalogServlet;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * Serves an Iceberg catalog over the Iceberg REST protocol, for the tests of @tributary/lakehouse.
 *
 * <p>The protocol side is Apache Iceberg's own (RESTCatalogAdapter + RESTCatalogServlet from iceberg-core's published
 * tests jar: the same classes Iceberg's REST fixture image runs). This class only wires them up, because that fixture's
 * main class listens on every interface and reads its settings from the environment, while our services listen on
 * loopback and keep their settings in a file.
 *
 * <p>Usage: {@code java -cp 'lib/*:classes' dev.tributary.services.IcebergRestServer catalog.properties}. The file
 * holds {@code rest.host}, {@code rest.port}, {@code catalog.name}; keys starting with {@code hadoop.} go, without
 * that prefix, into the Hadoop configuration of HadoopFileIO (local files); every other key is a catalog property
 * handed to {@link CatalogUtil#buildIcebergCatalog} (catalog-impl, uri, warehouse, io-impl, s3.*, jdbc.*).
 */
public final class IcebergRestServer {
  private IcebergRestServer() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: IcebergRestServer <catalog.properties>");
      System.exit(2);
    }
    Map<String, String> props = load(Path.of(args[0]));
    String host = props.remove("rest.host");
    int port = Integer.parseInt(props.remove("rest.port"));
    String name = props.remove("catalog.name");

    Configuration hadoopConf = new Configuration();
    for (String key : Set.copyOf(props.keySet())) {
      if (key.startsWith("hadoop.")) {
        hadoopConf.set(key.substring("hadoop.".length()), props.remove(key));
      }
    }
    Catalog catalog = CatalogUtil.buildIcebergCatalog(name, props, hadoopConf);

    ServletContextHandler context = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
    context.addServlet(new ServletHolder(new RESTCatalogServlet(new RESTCatalogAdapter(catalog))), "/*");

    Server server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost(host);
    connector.setPort(port);
    server.addConnector(connector);
    server.setHandler(context);
    server.setStopAtShutdown(true);
    server.start();
    // scripts/services/iceberg-rest.sh waits for this line (and for GET /v1/config) before it reports the service up.
    System.out.printf(
        "Iceberg REST catalog '%s' (%s) listening on http://%s:%d, warehouse %s%n",
        name, catalog.getClass().getSimpleName(), host, port, props.get("warehouse"));
    System.out.flush();
    server.join();
  }

  private static Map<String, String> load(Path file) throws IOException {
    Properties properties = new Properties();
    try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      properties.load(reader);
    }
    Map<String, String> map = new HashMap<>();
    for (String key : properties.stringPropertyNames()) {
      map.put(key, properties.getProperty(key).trim());
    }
    for (String required : new String[] {"rest.host", "rest.port", "catalog.name", "catalog-impl", "warehouse"}) {
      if (!map.containsKey(required) || map.get(required).isEmpty()) {
        throw new IllegalArgumentException(file + " has no value for '" + required + "'");
      }
    }
    return map;
  }
}
