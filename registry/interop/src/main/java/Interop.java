import com.netflix.appinfo.ApplicationInfoManager;
import com.netflix.appinfo.InstanceInfo;
import com.netflix.appinfo.MyDataCenterInstanceConfig;
import com.netflix.appinfo.providers.EurekaConfigBasedInstanceInfoProvider;
import com.netflix.config.ConfigurationManager;
import com.netflix.discovery.DefaultEurekaClientConfig;
import com.netflix.discovery.DiscoveryClient;
import com.netflix.discovery.shared.Application;

/**
 * Registers with the registry at args[0] using Netflix's own Eureka client, keeps its lease for
 * a few renewals, finds AUDIO-SERVICE, and shuts down (which deregisters). Exits 0 only if all
 * of that worked; prints what it saw.
 */
public class Interop {
    public static void main(String[] args) throws Exception {
        String serviceUrl = args[0];
        int port = Integer.parseInt(args[1]);
        var config = ConfigurationManager.getConfigInstance();
        config.setProperty("eureka.serviceUrl.default", serviceUrl);
        config.setProperty("eureka.name", "java-interop");
        config.setProperty("eureka.vipAddress", "java-interop");
        config.setProperty("eureka.port", port);
        config.setProperty("eureka.hostname", "127.0.0.1");
        config.setProperty("eureka.preferSameZone", false);
        config.setProperty("eureka.shouldUseDns", false);
        config.setProperty("eureka.registration.enabled", true);
        config.setProperty("eureka.client.refresh.interval", 1);
        config.setProperty("eureka.lease.renewalInterval", 1);
        config.setProperty("eureka.lease.duration", 5);
        config.setProperty("eureka.appinfo.initial.replicate.time", 0);
        config.setProperty("eureka.appinfo.replicate.interval", 1);

        MyDataCenterInstanceConfig instanceConfig = new MyDataCenterInstanceConfig();
        InstanceInfo info = new EurekaConfigBasedInstanceInfoProvider(instanceConfig).get();
        ApplicationInfoManager manager = new ApplicationInfoManager(instanceConfig, info);
        manager.setInstanceStatus(InstanceInfo.InstanceStatus.UP);
        DiscoveryClient client = new DiscoveryClient(manager, new DefaultEurekaClientConfig());

        boolean found = false;
        for (int i = 0; i < 60 && !found; i++) {
            Application app = client.getApplication("AUDIO-SERVICE");
            if (app != null && !app.getInstances().isEmpty()) {
                InstanceInfo audio = app.getInstances().get(0);
                System.out.println("FOUND AUDIO-SERVICE at " + audio.getIPAddr() + ":" + audio.getPort()
                        + " status " + audio.getStatus());
                found = true;
            } else {
                Thread.sleep(500);
            }
        }
        // Stay registered through several renewals so the lease is seen to be kept.
        Thread.sleep(4000);
        System.out.println("LEASE-KEPT " + client.getInstanceRemoteStatus());
        client.shutdown();
        System.out.println("SHUTDOWN");
        System.exit(found ? 0 : 1);
    }
}
