#include "CSpillwayKernel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static __thread char last_message[512];

static int keep_warning(enum libbpf_print_level level, const char *format, va_list arguments) {
    if (level == LIBBPF_DEBUG) return 0;
    char line[512];
    int length = vsnprintf(line, sizeof(line), format, arguments);
    /* Keep the last non-empty line: the verifier's or libbpf's reason. */
    if (length > 1) {
        while (length > 0 && line[length - 1] == '\n') line[--length] = 0;
        snprintf(last_message, sizeof(last_message), "%s", line);
    }
    return 0;
}

const char *spw_kernel_last_message(void) { return last_message; }

int spw_kernel_load(uint32_t max_entries, struct bpf_object **object, int *program_fd, int *forwards_fd,
                    int *counts_fd, int *totals_fd, int *owner_fd) {
    last_message[0] = 0;
    libbpf_set_print(keep_warning);
    LIBBPF_OPTS(bpf_object_open_opts, options, .object_name = "spw_forward");
    struct bpf_object *opened = bpf_object__open_mem(spw_forward_object, spw_forward_object_size, &options);
    if (!opened) return -errno;
    struct bpf_map *forwards = bpf_object__find_map_by_name(opened, "spw_forwards");
    struct bpf_map *counts = bpf_object__find_map_by_name(opened, "spw_counts");
    struct bpf_map *totals = bpf_object__find_map_by_name(opened, "spw_totals");
    struct bpf_map *owner = bpf_object__find_map_by_name(opened, "spw_owner");
    struct bpf_program *program = bpf_object__find_program_by_name(opened, "spw_forward");
    int failure = (!forwards || !counts || !totals || !owner || !program)
                      ? -ENOENT
                      : bpf_map__set_max_entries(forwards, max_entries);
    if (!failure) failure = bpf_map__set_max_entries(counts, max_entries);
    if (!failure) failure = bpf_object__load(opened);
    /* The program never reads its owner record, so the kernel would not list the map among the
     * program's: bind it, so that a later start finds the record from the program. */
    if (!failure) failure = bpf_prog_bind_map(bpf_program__fd(program), bpf_map__fd(owner), NULL);
    if (failure) {
        bpf_object__close(opened);
        return failure < 0 ? failure : -failure;
    }
    *object = opened;
    *program_fd = bpf_program__fd(program);
    *forwards_fd = bpf_map__fd(forwards);
    *counts_fd = bpf_map__fd(counts);
    *totals_fd = bpf_map__fd(totals);
    *owner_fd = bpf_map__fd(owner);
    return 0;
}

/* Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot; 0 when there is
 * no such process. */
static uint64_t process_start(uint32_t pid) {
    char path[64], line[1024];
    snprintf(path, sizeof(path), "/proc/%u/stat", pid);
    FILE *file = fopen(path, "r");
    if (!file) return 0;
    size_t length = fread(line, 1, sizeof(line) - 1, file);
    fclose(file);
    line[length] = 0;
    /* The command name (field 2) may hold spaces and parentheses: count from its last ')'. */
    char *field = strrchr(line, ')');
    for (int index = 2; field && index < 22; index++) field = strchr(field + 1, ' ');
    return field ? strtoull(field + 1, NULL, 10) : 0;
}

int spw_kernel_set_owner(int owner_fd, uint32_t handle, uint32_t priority, const int *devices, uint32_t count) {
    struct spw_forward_owner record;
    memset(&record, 0, sizeof(record));
    record.pid = (uint32_t)getpid();
    record.started = process_start(record.pid);
    record.handle = handle;
    record.priority = priority;
    record.device_count = count < SPW_FORWARD_MAX_DEVICES ? count : SPW_FORWARD_MAX_DEVICES;
    for (uint32_t index = 0; index < record.device_count; index++) record.devices[index] = (uint32_t)devices[index];
    uint32_t zero = 0;
    return bpf_map_update_elem(owner_fd, &zero, &record, BPF_ANY) ? -errno : 0;
}

/* The owner record among a program's maps, if it has one. */
static int read_owner(int program_fd, struct spw_forward_owner *owner) {
    uint32_t map_ids[8];
    struct bpf_prog_info info;
    memset(&info, 0, sizeof(info));
    info.nr_map_ids = 8;
    info.map_ids = (uint64_t)(uintptr_t)map_ids;
    uint32_t length = sizeof(info);
    if (bpf_obj_get_info_by_fd(program_fd, &info, &length)) return -errno;
    if (strcmp(info.name, "spw_forward") != 0) return -ENOENT;
    int found = -ENOENT;
    for (uint32_t index = 0; index < info.nr_map_ids && index < 8 && found; index++) {
        int map_fd = bpf_map_get_fd_by_id(map_ids[index]);
        if (map_fd < 0) continue;
        struct bpf_map_info map_info;
        memset(&map_info, 0, sizeof(map_info));
        uint32_t map_length = sizeof(map_info);
        uint32_t zero = 0;
        if (!bpf_obj_get_info_by_fd(map_fd, &map_info, &map_length) && strcmp(map_info.name, "spw_owner") == 0 &&
            !bpf_map_lookup_elem(map_fd, &zero, owner))
            found = 0;
        close(map_fd);
    }
    return found;
}

int spw_kernel_remove_orphans(void) {
    int removed = 0;
    uint32_t id = 0;
    while (!bpf_prog_get_next_id(id, &id)) {
        int program_fd = bpf_prog_get_fd_by_id(id);
        if (program_fd < 0) continue;
        struct spw_forward_owner owner;
        int read = read_owner(program_fd, &owner);
        close(program_fd);
        if (read || owner.pid == 0) continue;
        uint64_t started = process_start(owner.pid);
        if (started != 0 && started == owner.started) continue; /* its node runs */
        for (uint32_t index = 0; index < owner.device_count && index < SPW_FORWARD_MAX_DEVICES; index++)
            spw_kernel_detach((int)owner.devices[index], owner.handle, owner.priority);
        removed++;
    }
    return removed;
}

void spw_kernel_unload(struct bpf_object *object) { bpf_object__close(object); }

int spw_kernel_attach(int ifindex, int program_fd, uint32_t handle, uint32_t priority) {
    last_message[0] = 0;
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
    int created = bpf_tc_hook_create(&hook);
    if (created && created != -EEXIST) return created;
    LIBBPF_OPTS(bpf_tc_opts, options, .handle = handle, .priority = priority, .prog_fd = program_fd,
                .flags = BPF_TC_F_REPLACE);
    return bpf_tc_attach(&hook, &options);
}

int spw_kernel_detach(int ifindex, uint32_t handle, uint32_t priority) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
    LIBBPF_OPTS(bpf_tc_opts, options, .handle = handle, .priority = priority);
    return bpf_tc_detach(&hook, &options);
}

int spw_kernel_attached_program(int ifindex, uint32_t handle, uint32_t priority, uint32_t *program_id) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
    LIBBPF_OPTS(bpf_tc_opts, options, .handle = handle, .priority = priority);
    int failure = bpf_tc_query(&hook, &options);
    if (failure) return failure;
    *program_id = options.prog_id;
    return 0;
}

int spw_kernel_program_name(uint32_t program_id, char *name, uint32_t size) {
    int descriptor = bpf_prog_get_fd_by_id(program_id);
    if (descriptor < 0) return -errno;
    struct bpf_prog_info info;
    memset(&info, 0, sizeof(info));
    uint32_t length = sizeof(info);
    int failure = bpf_obj_get_info_by_fd(descriptor, &info, &length);
    close(descriptor);
    if (failure) return -errno;
    snprintf(name, size, "%s", info.name);
    return 0;
}

int spw_kernel_install(int forwards_fd, int counts_fd, const struct spw_forward_key *key,
                       const struct spw_forward_entry *entry) {
    struct spw_forward_counters zero;
    memset(&zero, 0, sizeof(zero));
    if (bpf_map_update_elem(counts_fd, key, &zero, BPF_NOEXIST) && errno != EEXIST) return -errno;
    return bpf_map_update_elem(forwards_fd, key, entry, BPF_ANY) ? -errno : 0;
}

int spw_kernel_counts(int counts_fd, const struct spw_forward_key *key, struct spw_forward_counters *counts) {
    return bpf_map_lookup_elem_flags(counts_fd, key, counts, BPF_F_LOCK) ? -errno : 0;
}

int spw_kernel_forget(int counts_fd, const struct spw_forward_key *key) {
    return bpf_map_delete_elem(counts_fd, key) ? -errno : 0;
}

int spw_kernel_read(int forwards_fd, const struct spw_forward_key *key, struct spw_forward_entry *entry) {
    return bpf_map_lookup_elem_flags(forwards_fd, key, entry, BPF_F_LOCK) ? -errno : 0;
}

int spw_kernel_take(int forwards_fd, const struct spw_forward_key *key, struct spw_forward_entry *entry) {
    return bpf_map_lookup_and_delete_elem_flags(forwards_fd, key, entry, BPF_F_LOCK) ? -errno : 0;
}

int spw_kernel_totals(int totals_fd, struct spw_forward_totals *totals) {
    int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return cpus < 0 ? cpus : -EINVAL;
    struct spw_forward_totals per_cpu[cpus];
    uint32_t zero = 0;
    if (bpf_map_lookup_elem(totals_fd, &zero, per_cpu)) return -errno;
    totals->packets = 0;
    totals->bytes = 0;
    for (int cpu = 0; cpu < cpus; cpu++) {
        totals->packets += per_cpu[cpu].packets;
        totals->bytes += per_cpu[cpu].bytes;
    }
    return 0;
}
