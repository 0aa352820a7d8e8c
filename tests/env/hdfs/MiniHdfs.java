// A real single-node HDFS for tests: Hadoop's own MiniDFSCluster (a real
// NameNode and a real DataNode in one JVM) with WebHDFS on 127.0.0.1.
//
// Usage: java -cp 'lib/*:classes' MiniHdfs BASE_DIR HTTP_PORT READY_FILE
// Writes READY_FILE (key=value lines) once the cluster is up and the root
// directory is writable by any WebHDFS user; stops cleanly on SIGTERM.
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.hdfs.DistributedFileSystem;
import org.apache.hadoop.hdfs.HdfsConfiguration;
import org.apache.hadoop.hdfs.MiniDFSCluster;

public final class MiniHdfs {
  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: MiniHdfs BASE_DIR HTTP_PORT READY_FILE");
      System.exit(2);
    }
    File baseDir = new File(args[0]);
    int httpPort = Integer.parseInt(args[1]);
    File readyFile = new File(args[2]);

    Configuration conf = new HdfsConfiguration();
    conf.setBoolean("dfs.webhdfs.enabled", true);
    // Every address the NameNode hands out (WebHDFS redirects OPEN/CREATE to
    // the DataNode) must be reachable on loopback, never a host name.
    conf.set("dfs.namenode.http-address", "127.0.0.1:" + httpPort);
    conf.set("dfs.datanode.hostname", "127.0.0.1");
    conf.set("dfs.namenode.rpc-bind-host", "127.0.0.1");
    conf.set("dfs.namenode.http-bind-host", "127.0.0.1");
    // One DataNode: one replica per block, and small blocks are fine.
    conf.setInt("dfs.replication", 1);
    // Tests create and delete many small files quickly; keep the NameNode
    // from waiting on a safe mode that a single node would leave anyway.
    conf.setInt("dfs.namenode.safemode.extension", 0);
    // Extended attributes back the object-store source's "tag" action.
    conf.setBoolean("dfs.namenode.xattrs.enabled", true);

    MiniDFSCluster cluster = new MiniDFSCluster.Builder(conf, baseDir)
        .numDataNodes(1)
        .nameNodeHttpPort(httpPort)
        .format(true)
        .build();
    cluster.waitActive();

    // WebHDFS clients authenticate with user.name (simple auth) as any user;
    // an open root lets each test make its own directory under it.
    DistributedFileSystem fs = cluster.getFileSystem();
    fs.setPermission(new Path("/"), new FsPermission((short) 0777));

    Runtime.getRuntime().addShutdownHook(new Thread(cluster::shutdown));

    String ready = "webhdfs=http://127.0.0.1:" + cluster.getNameNode().getHttpAddress().getPort()
        + "\nrpc=hdfs://127.0.0.1:" + cluster.getNameNodePort() + "\n";
    File tmp = new File(readyFile.getPath() + ".tmp");
    Files.write(tmp.toPath(), ready.getBytes(StandardCharsets.UTF_8));
    Files.move(tmp.toPath(), readyFile.toPath(), StandardCopyOption.ATOMIC_MOVE);
    System.out.println("MiniHdfs ready: " + ready.replace('\n', ' '));
    Thread.currentThread().join();
  }
}
