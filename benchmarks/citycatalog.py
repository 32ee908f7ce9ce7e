"""A deterministic city-sized catalog, written as a schemas folder: departments, matters, bundles.

Shaped like a prefecture-level city's service hall (Qingdao lists 11,264 matters): the
same kinds of department in the city and each district, each implementing its share
of the matter list in several business items (新办, 变更, 延续, 注销: the 业务办理项 of a
catalogue entry), guides with the texts a hall publishes, and bundles (一件事) of
matters across departments of one jurisdiction, some nesting others (一类事). Most
matters belong to no bundle, as in a real hall. The same size and seed always write
the same files.

    python benchmarks/citycatalog.py OUT [--matters N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from pathlib import Path

import opencc

REPO = Path(__file__).resolve().parents[1]
CITY_MATTERS = 11_264
CITY_BUNDLES = 500

# (code, name, short name) of the jurisdictions: the city, then its districts and cities.
JURISDICTIONS = [
    ("qdc", "青岛市", "Qingdao"), ("shn", "市南区", "Shinan"), ("shb", "市北区", "Shibei"),
    ("lcq", "李沧区", "Licang"), ("lsh", "崂山区", "Laoshan"), ("cyq", "城阳区", "Chengyang"),
    ("hdq", "黄岛区", "Huangdao"), ("jmq", "即墨区", "Jimo"), ("jzs", "胶州市", "Jiaozhou"),
    ("pds", "平度市", "Pingdu"),
]
# Kinds of department: code, name, English, and the subjects of their matters.
DEPARTMENT_KINDS = [
    ("amr", "市场监督管理局", "Market Regulation", [
        "食品经营", "食品生产", "特种设备使用", "计量器具型式", "药品零售", "医疗器械经营",
        "广告发布", "企业登记"
    ]),
    ("health", "卫生健康委员会", "Health", [
        "医疗机构执业", "医师执业注册", "护士执业注册", "公共场所卫生", "放射诊疗",
        "母婴保健技术服务", "消毒产品生产", "职业健康检查机构"
    ]),
    ("fire", "消防救援支队", "Fire and Rescue", [
        "公众聚集场所投入使用营业前消防安全检查", "建设工程消防设计审查", "建设工程消防验收",
        "消防验收备案"
    ]),
    ("housing", "住房和城乡建设局", "Housing and Construction", [
        "建筑工程施工许可", "商品房预售许可", "建筑业企业资质", "房屋建筑工程竣工验收备案",
        "燃气经营许可", "物业服务企业备案"
    ]),
    ("natres", "自然资源和规划局", "Natural Resources and Planning", [
        "建设工程规划许可", "建设用地规划许可", "乡村建设规划许可", "临时建设工程规划许可",
        "测绘资质"
    ]),
    ("ecology", "生态环境局", "Ecology and Environment", [
        "建设项目环境影响报告书审批", "建设项目环境影响报告表审批", "排污许可",
        "危险废物经营许可", "辐射安全许可"
    ]),
    ("transport", "交通运输局", "Transport", [
        "道路货物运输经营许可", "道路旅客运输经营许可", "出租汽车经营许可",
        "机动车维修经营备案", "占用挖掘公路许可"
    ]),
    ("water", "水务管理局", "Water", [
        "取水许可", "河道管理范围内建设项目工程建设方案审批", "城镇污水排入排水管网许可",
        "生产建设项目水土保持方案审批"
    ]),
    ("agri", "农业农村局", "Agriculture", [
        "农药经营许可", "兽药经营许可", "种子生产经营许可", "动物防疫条件合格证核发",
        "拖拉机和联合收割机登记"
    ]),
    ("culture", "文化和旅游局", "Culture and Tourism", [
        "娱乐场所经营许可", "营业性演出许可", "旅行社业务经营许可", "网吧经营许可",
        "出版物零售单位设立"
    ]),
    ("edu", "教育局", "Education", [
        "民办学校办学许可", "校外培训机构设立", "教师资格认定", "幼儿园办园许可"
    ]),
    ("civil", "民政局", "Civil Affairs", [
        "社会团体成立登记", "民办非企业单位成立登记", "养老机构备案", "婚姻登记",
        "最低生活保障审批", "殡葬服务机构设立"
    ]),
    ("hrss", "人力资源和社会保障局", "Human Resources and Social Security", [
        "劳务派遣经营许可", "人力资源服务许可", "社会保险登记", "失业保险金申领",
        "职业技能等级认定"
    ]),
    ("police", "公安局", "Public Security", [
        "户口迁移", "出生登记", "居住证签注", "旅馆业特种行业许可", "公章刻制业特种行业许可",
        "大型群众性活动安全许可"
    ]),
    ("urban", "城市管理局", "Urban Management", [
        "户外招牌设施设置审核", "城市道路挖掘许可", "建筑垃圾处置核准", "临时占用城市道路许可",
        "城市绿地占用审批"
    ]),
    ("emergency", "应急管理局", "Emergency Management", [
        "危险化学品经营许可", "烟花爆竹经营许可", "非煤矿山安全生产许可",
        "生产安全事故应急预案备案"
    ]),
    ("commerce", "商务局", "Commerce", [
        "对外贸易经营者备案", "单用途商业预付卡备案", "二手车交易市场备案", "拍卖企业设立"
    ]),
    ("medins", "医疗保障局", "Healthcare Security", [
        "医保参保登记", "异地就医备案", "定点医药机构申请", "医疗费用手工报销"
    ]),
    ("approval", "行政审批服务局", "Administrative Approval", [
        "投资项目核准", "企业投资项目备案", "人防工程建设审批", "特殊建设工程消防验收"
    ]),
    ("sports", "体育局", "Sports", [
        "高危险性体育项目经营许可", "体育类民办非企业单位设立", "健身场所备案"
    ]),
    ("ocean", "海洋发展局", "Ocean Development", [
        "海域使用权审核", "渔业捕捞许可", "水产苗种生产许可", "渔业船舶登记"
    ]),
    ("forest", "园林和林业局", "Landscaping and Forestry", [
        "林木采伐许可", "古树名木迁移审批", "使用林地审核", "野生动物驯养繁殖许可"
    ]),
    ("tobacco", "烟草专卖局", "Tobacco Monopoly", [
        "烟草专卖零售许可", "烟草专卖批发企业许可"
    ]),
    ("tax", "税务局", "Taxation", [
        "税务登记", "发票领用", "一般纳税人登记", "跨区域涉税事项报告"
    ]),
    ("statistic", "统计局", "Statistics", [
        "统计调查项目审批", "涉外调查机构资格认定"
    ]),
    ("veterans", "退役军人事务局", "Veterans Affairs", [
        "退役士兵安置", "优抚对象抚恤补助", "烈士褒扬金发放"
    ]),
]
# The business items a catalogue entry is implemented in.
ITEMS = [("new", "新办", "new"), ("change", "变更", "change"), ("renew", "延续", "renewal"),
         ("cancel", "注销", "cancellation"), ("reissue", "补办", "reissue"),
         ("filing", "备案", "filing")]
CATEGORIES = ["administrative_licence", "administrative_licence", "administrative_filing",
              "administrative_confirmation", "public_service", "administrative_payment"]
ENTERPRISE_FIELDS = ["entity_name", "entity_uscc", "legal_representative", "contact_name",
                     "contact_mobile", "premises_address", "registered_capital", "employee_count",
                     "business_scope", "premises_area"]
PERSON_FIELDS = ["applicant_name", "applicant_id_number", "applicant_mobile", "household_address"]
# Materials many matters ask for: the same id is the same document everywhere.
SHARED_MATERIALS = {
    "business-licence": ("营业执照", "certificate", "electronic", True),
    "applicant-id-card": ("申请人身份证件", "certificate", "electronic", True),
    "premises-lease-or-title": ("经营场所使用证明", "other", "either", False),
    "legal-rep-authorization": ("法定代表人授权委托书", "other", "either", False),
}
LOCAL_TYPES = ["string", "string", "number", "integer", "boolean", "choice", "date"]


class Writer:
    """Writes one city's catalog into a schemas folder, deterministically from a seed."""

    def __init__(self, out: Path, seed: int) -> None:
        self.out = out
        self.random = random.Random(seed)
        self.s2t = opencc.OpenCC("s2t")

    def text(self, zh: str, en: str) -> dict:
        return {"zh-Hans": zh, "zh-Hant": self.s2t.convert(zh), "en": en}

    def write(self, kind_folder: str, code: str, data: dict) -> None:
        path = self.out / kind_folder / f"{code}.json"
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    # --- departments --------------------------------------------------------------------------

    def department(self, jurisdiction: tuple, kind: tuple) -> dict:
        jcode, jname, jen = jurisdiction
        code, name, en, _ = kind
        full = f"青岛市{name}" if jcode == "qdc" else f"青岛市{jname}{name.removeprefix('市')}"
        return {
            "code": f"{jcode}-{code}",
            "name": self.text(full, f"{jen} {en} Bureau"),
            "short_name": self.text(f"{jname}{name[:4]}", f"{jen} {en}"),
            "level": "city" if jcode == "qdc" else "district",
            **({"parent": f"qdc-{code}"} if jcode != "qdc" else {}),
            "consult_phone": f"0532-8{self.random.randrange(1000000, 9999999)}",
            "complaint_phone": "12345",
            "address": self.text(f"{jname}政务服务大厅{name}窗口",
                                 f"{en} window, {jen} Government Service Hall"),
            "office_hours": self.text(
                "周一至周五 上午9:00—12:00，下午13:30—17:00（法定节假日除外）",
                "Monday to Friday 9:00–12:00 and 13:30–17:00"),
        }

    # --- matters ------------------------------------------------------------------------------

    def local_field(self, key: str, subject: str, index: int) -> dict:
        kind = self.random.choice(LOCAL_TYPES)
        title = self.text(f"{subject}事项第{index + 1}项信息", f"{subject} detail {index + 1}")
        if kind == "string":
            return {"type": "string", "title": title, "minLength": 1,
                    "maxLength": self.random.choice([20, 50, 200])}
        if kind == "number":
            return {"type": "number", "title": title, "minimum": 0,
                    "maximum": self.random.choice([100, 10000, 1000000])}
        if kind == "integer":
            return {"type": "integer", "title": title, "minimum": 0, "maximum": 9999}
        if kind == "boolean":
            return {"type": "boolean", "title": title}
        if kind == "date":
            return {"type": "string", "format": "date", "title": title}
        return {"type": "string", "title": title, "oneOf": [
            {"const": f"option-{n}", "title": self.text(f"选项{n}", f"Option {n}")}
            for n in range(1, self.random.randint(3, 5))]}

    def material(self, material_id: str, name: str, necessity: str = "required") -> dict:
        shared = SHARED_MATERIALS.get(material_id)
        if shared is not None:
            name, kind, medium, from_government = shared
        else:
            kind, medium, from_government = "other", self.random.choice(["paper", "either"]), False
        data = {"id": material_id, "name": self.text(name, f"Material {material_id}"),
                "type": kind, "medium": medium, "copies": 0 if medium == "electronic" else 1,
                "necessity": necessity, "source": "government" if from_government else "applicant",
                "notes": self.text(f"{name}应当真实、有效，复印件加盖公章或签字确认。",
                                   f"The {material_id} must be genuine and valid.")}
        if from_government:
            data["shared_data"] = True
        return data

    def matter(self, department: dict, kind: tuple, subject: str, item: tuple, number: int
               ) -> dict:
        jname = department["short_name"]["zh-Hans"][:3]
        _, item_name, item_en = item
        suffix = "" if subject.endswith(("许可", "登记", "备案")) else "许可"
        name = f"{subject}{suffix}（{item_name}）"
        code = f"{department['code']}-{number:03d}"
        for_person = kind[0] in ("civil", "police", "medins", "veterans", "hrss") and \
            self.random.random() < 0.6
        library = PERSON_FIELDS if for_person else ENTERPRISE_FIELDS
        shared = self.random.sample(library, k=min(len(library), self.random.randint(3, 6)))
        properties = {key: {"$ref": f"https://onething.example/fields/{key}"} for key in shared}
        for index in range(self.random.randint(3, 10)):
            properties[f"detail_{index + 1}"] = self.local_field(f"detail_{index + 1}", subject,
                                                                  index)
        required = [key for key in properties if self.random.random() < 0.8]
        materials = [self.material("applicant-id-card" if for_person else "business-licence", "")]
        if not for_person and self.random.random() < 0.5:
            materials.append(self.material("premises-lease-or-title", ""))
        materials.append(self.material(f"{code}-application", f"{subject}申请表"))
        for index in range(self.random.randint(1, 5)):
            materials.append(self.material(
                f"{code}-m{index + 1}", f"{subject}证明材料{index + 1}",
                self.random.choice(["required", "required", "optional", "deferrable"])))
        legal = self.random.choice([5, 10, 15, 20, 20, 30])
        promised = self.random.randint(0, min(legal, 10))
        return {
            "code": code,
            "official_code": f"{self.random.randrange(10**11, 10**12)}",
            "name": self.text(name, f"{kind[2]}: {subject} ({item_en})"),
            "description": self.text(
                f"在{jname}申请{subject}{item_name}的，向{department['name']['zh-Hans']}提出申请。"
                f"申请人应当具备法律法规规定的条件，按要求一次性提交材料；材料齐全、符合法定形式的，"
                f"当场受理，并在承诺时限内作出决定。{subject}相关的政策咨询，可拨打咨询电话或12345。",
                f"Apply to the {department['name']['en']} for {subject} ({item_en}) in {jname}."),
            "department": department["code"],
            "category": self.random.choice(CATEGORIES),
            "serves": ["natural_person"] if for_person else ["enterprise",
                                                              "unincorporated_enterprise"],
            "legal_basis": [{"name": self.text(f"{kind[1].removeprefix('市')}管理条例",
                                               f"{kind[2]} regulations"),
                             "number": f"国务院令第{self.random.randint(100, 799)}号",
                             "article": self.text(f"第{self.random.randint(2, 60)}条", "Art.")}],
            "conditions": [self.text(f"申请人依法具备办理{subject}{item_name}的主体资格。",
                                     "The applicant is eligible."),
                           self.text("提交的材料真实、完整、有效，符合法定形式。",
                                     "The materials are true and complete.")],
            "handling": "on_the_spot" if promised == 0 else "promised",
            "time_limit": {"legal_days": legal, "promised_days": promised},
            "visits": self.random.choice([0, 0, 1, 1, 2]),
            "fee": {"charged": False, "basis": self.text("不收费", "Free of charge")},
            "location": self.text(f"{jname}政务服务大厅综合窗口",
                                  f"{jname} Government Service Hall"),
            "hours": self.text("周一至周五 9:00—17:00", "Monday to Friday 9:00–17:00"),
            "consult_phone": department["consult_phone"],
            "complaint_phone": "12345",
            "result": {"type": "certificate" if "许可" in name else "approval_document",
                       "name": self.text(f"{subject}{'许可证' if '许可' in name else '决定书'}",
                                         f"{subject} result")},
            "form": {"type": "object", "properties": properties, "required": required},
            "materials": materials,
        }

    # --- bundles ------------------------------------------------------------------------------

    def bundle(self, code: str, jurisdiction: tuple, matters: list[dict], nested: list[str]
               ) -> dict:
        jcode, jname, jen = jurisdiction
        subjects = [m["name"]["zh-Hans"].split("（")[0] for m in matters[:3]]
        name = f"{jname}{'、'.join(subjects[:2])}等{len(matters)}项联办" if matters else \
            f"{jname}行业准营一类事{code[-3:]}"
        items = []
        questions = {}
        for index, matter in enumerate(matters):
            item = {"matter": matter["code"]}
            if index > 0 and self.random.random() < 0.35:
                key = f"needs_{matter['code'].replace('-', '_')}"
                questions[key] = {"type": "boolean", "title": self.text(
                    f"是否需要办理{matter['name']['zh-Hans']}？",
                    f"Do you need {matter['name']['en']}?")}
                item["when"] = {"properties": {key: {"const": True}}, "required": [key]}
            items.append(item)
        items += [{"bundle": other} for other in nested]
        after = {}
        if len(matters) > 2 and self.random.random() < 0.5:
            # The later approvals wait for the first, as a licence waits for registration,
            # within the 45 working days the law allows a joint handling.
            first = matters[0]["time_limit"]["legal_days"]
            after = {matter["code"]: [matters[0]["code"]] for matter in matters[1:3]
                     if first + matter["time_limit"]["legal_days"] <= 45}
        data = {
            "code": code,
            "name": self.text(name, f"{jen} bundle {code}"),
            "description": self.text(
                f"在{jname}一次申请、一表填报、一窗受理，并联办理{'、'.join(subjects)}等事项。",
                f"One application in {jen}."),
            "kind": "one_class" if nested else "one_thing",
            "lead_department": (matters[0]["department"] if matters else f"{jcode}-approval"),
            "audience": "enterprise",
            "keywords": subjects,
            "questions": {"type": "object", "properties": questions},
            "items": items,
        }
        if after:
            data["after"] = after
        return data


def write_city(out: Path, matters: int = CITY_MATTERS, bundles: int | None = None,
               seed: int = 2026) -> dict[str, int]:
    """Write a city catalog of about `matters` matters into `out`; return what was written."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    for folder in ("catalog/departments", "catalog/matters", "catalog/bundles"):
        (out / folder).mkdir(parents=True)
    # The platform's own files: meta-schemas, the field library and the divisions table.
    shutil.copytree(REPO / "schemas" / "meta", out / "meta")
    shutil.copytree(REPO / "schemas" / "fields", out / "fields")
    for name in ("divisions.json", "synonyms.json"):
        shutil.copy(REPO / "schemas" / name, out / name)
    bundles = bundles if bundles is not None else round(matters * CITY_BUNDLES / CITY_MATTERS)
    writer = Writer(out, seed)
    departments = [(j, kind, writer.department(j, kind))
                   for j in JURISDICTIONS for kind in DEPARTMENT_KINDS]
    for _, _, department in departments:
        writer.write("catalog/departments", department["code"], department)
    per_department = -(-matters // len(departments))
    by_jurisdiction: dict[str, list[dict]] = {j[0]: [] for j in JURISDICTIONS}
    written = 0
    # Round by round over every department, so a smaller catalog still spans the city.
    for number in range(per_department):
        for jurisdiction, kind, department in departments:
            if written == matters:
                break
            subject = kind[3][number % len(kind[3])]
            item = ITEMS[(number // len(kind[3])) % len(ITEMS)]
            matter = writer.matter(department, kind, subject, item, number + 1)
            writer.write("catalog/matters", matter["code"], matter)
            by_jurisdiction[jurisdiction[0]].append(matter)
            written += 1
    count = 0
    for index in range(bundles):
        jurisdiction = JURISDICTIONS[index % len(JURISDICTIONS)]
        pool = [m for m in by_jurisdiction[jurisdiction[0]] if m["code"].endswith(
            tuple(f"-{n:03d}" for n in range(1, 9)))] or by_jurisdiction[jurisdiction[0]]
        number = index // len(JURISDICTIONS) + 1
        code = f"{jurisdiction[0]}-bundle-{number:03d}"
        # Every tenth bundle of a jurisdiction is a 一类事 holding the two written before it.
        if number % 10 == 5:
            nested = [f"{jurisdiction[0]}-bundle-{number - n:03d}" for n in (1, 2)]
            chosen = []
        else:
            nested = []
            chosen = writer.random.sample(pool, k=min(len(pool), writer.random.randint(2, 6)))
        # One matter per department kind: a bundle joins different departments' work.
        seen, distinct = set(), []
        for matter in chosen:
            if matter["department"] not in seen:
                seen.add(matter["department"])
                distinct.append(matter)
        writer.write("catalog/bundles", code, writer.bundle(code, jurisdiction, distinct, nested))
        count += 1
    # The largest bundle a city composes: 84 matters of 84 departments (a 一类事's worth).
    firsts = {}
    for matters_ in by_jurisdiction.values():
        for matter in matters_:
            firsts.setdefault(matter["department"], matter)
    if len(firsts) >= 84:
        chosen = [firsts[code] for code in sorted(firsts)[:84]]
        big = writer.bundle("qdc-bundle-all", JURISDICTIONS[0], chosen, [])
        big["name"] = writer.text("青岛市企业准营全流程联办", "Qingdao: every permit to operate")
        writer.write("catalog/bundles", big["code"], big)
        count += 1
    return {"departments": len(departments), "matters": written, "bundles": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--matters", type=int, default=CITY_MATTERS)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    print(write_city(args.out, args.matters, seed=args.seed))


if __name__ == "__main__":
    main()
